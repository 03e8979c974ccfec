"""Object- and method-heavy code: small classes, properties, dunder methods, inheritance.

A particle simulation on 2-D vectors, the shape of typical business or game code: many
short method calls, attribute reads and writes, and freshly allocated objects.
"""


class Vector:
    """An immutable 2-D vector."""

    __slots__ = ("x", "y")

    def __init__(self, x: float, y: float) -> None:
        self.x = x
        self.y = y

    def __add__(self, other: "Vector") -> "Vector":
        return Vector(self.x + other.x, self.y + other.y)

    def scaled(self, factor: float) -> "Vector":
        return Vector(self.x * factor, self.y * factor)

    @property
    def norm_squared(self) -> float:
        return self.x * self.x + self.y * self.y


class Body:
    """A moving point that bounces inside the unit box."""

    def __init__(self, position: Vector, velocity: Vector) -> None:
        self.position = position
        self.velocity = velocity

    def step(self, dt: float) -> None:
        self.position = self.position + self.velocity.scaled(dt)
        self.bounce()

    def bounce(self) -> None:
        if not 0.0 <= self.position.x <= 1.0:
            self.velocity = Vector(-self.velocity.x, self.velocity.y)
        if not 0.0 <= self.position.y <= 1.0:
            self.velocity = Vector(self.velocity.x, -self.velocity.y)

    def energy(self) -> float:
        return 0.5 * self.velocity.norm_squared


class HeavyBody(Body):
    """A body whose energy counts its mass: a method resolved through the subclass."""

    mass = 3.0

    def energy(self) -> float:
        return self.mass * super().energy()


def run(scale: float) -> int:
    """Step 50 bodies through time; return a checksum of the final energy."""
    bodies: list[Body] = []
    for i in range(50):
        kind = HeavyBody if i % 3 == 0 else Body
        bodies.append(kind(Vector(i / 50, (i * 7 % 50) / 50), Vector(0.01 * (i % 5), 0.02)))
    for _ in range(max(1, round(5500 * scale))):
        for body in bodies:
            body.step(0.5)
    return round(sum(body.energy() for body in bodies) * 1e6)
