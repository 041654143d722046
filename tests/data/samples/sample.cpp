// Geometry primitives.
#include <cmath>
#include <vector>

namespace geo {

/// A point in the plane.
struct Point {
    double x;
    double y;
};

/// A closed polygon.
class Polygon : public Shape {
public:
    explicit Polygon(std::vector<Point> points) : points_(std::move(points)) {}

    /// Area by the shoelace formula.
    double area() const override;

    // Number of corners.
    std::size_t corners() const { return points_.size(); }

private:
    std::vector<Point> points_;
};

double Polygon::area() const {
    double sum = 0.0;
    for (std::size_t i = 0; i < points_.size(); ++i) {
        sum += cross(points_[i], points_[(i + 1) % points_.size()]);
    }
    return std::abs(sum) / 2.0;
}

/// Cross product of two points.
double cross(const Point &a, const Point &b) {
    return a.x * b.y - a.y * b.x;
}

template <typename T>
T clamp(T value, T low, T high) {
    return std::max(low, std::min(value, high));
}

}  // namespace geo
