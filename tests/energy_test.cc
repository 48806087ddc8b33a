// The first-order radio model against its closed form.
#include "common/accounting/energy.h"

#include <gtest/gtest.h>

namespace dadmm {
namespace {

TEST(RadioModel, ClosedForm) {
  const RadioModel m;  // 50 nJ/bit, 100 pJ/bit/m^2
  // 1000 bytes over 10 m: 8000 * (50e-9 + 100e-12 * 100) = 8000 * 6e-8 J.
  EXPECT_DOUBLE_EQ(m.Transmit(8000, 10.0), 4.8e-4);
  EXPECT_DOUBLE_EQ(m.Receive(8000), 4e-4);
  EXPECT_DOUBLE_EQ(m.Transmit(8000, 0.0), m.Receive(8000));
  EXPECT_FALSE(RadioModel{.e_elec = -1.0}.Validate().ok());
  EXPECT_TRUE(m.Validate().ok());
}

TEST(RadioModel, DistancesFromPositionsElseTheDefault) {
  const Topology t = *Topology::Create("tri",
                                       {{.id = 1, .address = "a:1", .position = std::array<double, 3>{0, 0, 0}},
                                        {.id = 2, .address = "a:2", .position = std::array<double, 3>{3, 4, 0}},
                                        {.id = 3, .address = "a:3"}},
                                       {{1, 2}, {2, 3}, {1, 3}});
  const RadioModel m{.default_distance = 7.0};
  EXPECT_DOUBLE_EQ(LinkDistance(t, 1, 2, m), 5.0);
  EXPECT_DOUBLE_EQ(LinkDistance(t, 2, 1, m), 5.0);
  EXPECT_DOUBLE_EQ(LinkDistance(t, 1, 3, m), 7.0);  // node 3 has no position
}

}  // namespace
}  // namespace dadmm
