// The namespace helpers against the real kernel: namespaces go away, the topology routes.
#include "support/netns.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "support/root.h"
#include "support/topology.h"

namespace tabby::test {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

TEST(ScopedNetns, CreatedIsolatedAndDeleted) {
  TABBY_REQUIRE_ROOT();
  std::string path;
  {
    auto ns = ScopedNetns::Create();
    ASSERT_TRUE(ns.ok()) << ns.status();
    path = ns->path();
    EXPECT_TRUE(Exists(path));
    CommandResult links = ns->Run({"ip", "-o", "link", "show"});
    ASSERT_TRUE(links.ok()) << links.Describe();
    EXPECT_NE(links.out.find("lo:"), std::string::npos);
    EXPECT_NE(links.out.find("UP"), std::string::npos) << "lo is not up: " << links.out;
    EXPECT_EQ(links.out.find("uplink0"), std::string::npos);
  }
  EXPECT_FALSE(Exists(path));
}

TEST(Host, WorkloadsReachEachOtherOverTheHost) {
  TABBY_REQUIRE_ROOT();
  auto host = Host::Create();
  ASSERT_TRUE(host.ok()) << host.status();
  auto a = (*host)->AddWorkload("a", "198.51.100.1", "2001:db8::1");
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = (*host)->AddWorkload("b", "198.51.100.2", "2001:db8::2");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*a)->interface_name, "tabbya");
  CommandResult v4 = (*a)->netns.Run({"busybox", "ping", "-c", "1", "-W", "2", "198.51.100.2"});
  EXPECT_TRUE(v4.ok()) << v4.Describe();
  CommandResult v6 =
      (*a)->netns.Run({"busybox", "ping", "-6", "-c", "1", "-W", "2", "2001:db8::2"});
  EXPECT_TRUE(v6.ok()) << v6.Describe();
  std::string workload_path = (*b)->netns.path();
  (*host)->RemoveWorkload("b");
  EXPECT_FALSE(Exists(workload_path));
}

}  // namespace
}  // namespace tabby::test
