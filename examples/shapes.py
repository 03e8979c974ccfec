"""Classes and generators: a small hierarchy of shapes, produced lazily and summed up."""

import math
from collections.abc import Iterator
from dataclasses import dataclass


class Shape:
    """Something with an area and a name."""

    name = "shape"

    def area(self) -> float:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} with area {self.area():.2f}"


@dataclass
class Circle(Shape):
    radius: float
    name = "circle"

    def area(self) -> float:
        return math.pi * self.radius**2


@dataclass
class Rectangle(Shape):
    width: float
    height: float
    name = "rectangle"

    def area(self) -> float:
        return self.width * self.height


class Square(Rectangle):
    name = "square"

    def __init__(self, side: float) -> None:
        super().__init__(side, side)


def shapes(count: int) -> Iterator[Shape]:
    """Yield ``count`` shapes, cycling through the three kinds."""
    for i in range(1, count + 1):
        match i % 3:
            case 0:
                yield Circle(radius=i / 2)
            case 1:
                yield Rectangle(width=i, height=i + 1)
            case _:
                yield Square(side=i)


def largest(items: Iterator[Shape]) -> tuple[Shape, float]:
    """The shape with the largest area and the total area, in one pass."""
    best: Shape | None = None
    total = 0.0
    for shape in items:
        total += shape.area()
        if best is None or shape.area() > best.area():
            best = shape
    assert best is not None
    return best, total


def main() -> None:
    for shape in shapes(3):
        print(shape.describe())
    best, total = largest(shapes(9))
    print(f"largest of 9: {best.describe()}; total area {total:.2f}")


if __name__ == "__main__":
    main()
