// The change monitor against the real kernel, in a network namespace of its own: commits by
// another process are noticed, and this process's own commits through OwnCommitsUnheard cost
// no notifications at all (nothing is queued on the monitor's socket), while a commit by
// someone else in the same window is still noticed, through the ruleset generation.
#include "dataplane/change_monitor.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "dataplane/netlink.h"
#include "dataplane/nft_client.h"
#include "dataplane/nft_transaction.h"
#include "support/netns.h"
#include "support/root.h"

namespace tabby::dataplane {
namespace {

// A table and a set of `elements` IPv4 addresses: one notification per element when heard.
NftTransaction TableWithElements(int elements) {
  NftTransaction txn;
  NftOp table;
  table.kind = NftOp::Kind::kAddTable;
  txn.ops.push_back(table);
  NftOp set;
  set.kind = NftOp::Kind::kAddSet;
  set.name = "peers";
  set.set = {.name = "peers", .kind = SetKind::kAddress, .family = 4};
  txn.ops.push_back(set);
  NftOp add;
  add.kind = NftOp::Kind::kAddElements;
  add.name = "peers";
  for (int i = 0; i < elements; ++i) {
    add.elements.push_back("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
  }
  txn.ops.push_back(add);
  return txn;
}

bool Readable(int fd) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  return poll(&p, 1, 0) > 0;
}

class ChangeMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::RequireRoot();
    if (IsSkipped()) return;
    auto netns = test::ScopedNetns::Create();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = std::make_unique<test::ScopedNetns>(std::move(*netns));
    auto guard = NetnsGuard::Enter(netns_->path());
    ASSERT_TRUE(guard.ok()) << guard.status();
    guard_ = std::move(*guard);
    auto monitor = ChangeMonitor::Open({}, {getpid(), static_cast<pid_t>(gettid())});
    ASSERT_TRUE(monitor.ok()) << monitor.status();
    monitor_ = std::move(*monitor);
    inner_ = MakeLibNftablesClient();
    client_ = std::make_unique<OwnCommitsUnheard>(*inner_);
  }

  // The socket that hears nftables notifications.
  int NftFd() const { return monitor_->fds()[0]; }

  std::unique_ptr<test::ScopedNetns> netns_;
  std::unique_ptr<NetnsGuard> guard_;  // this thread stays in netns_ for the test
  std::unique_ptr<ChangeMonitor> monitor_;
  std::unique_ptr<NftClient> inner_;
  std::unique_ptr<OwnCommitsUnheard> client_;
};

TEST_F(ChangeMonitorTest, OwnCommitsAreHeardAndIgnoredWithoutTheUnheardClient) {
  // The control for the next test: subscribed, the kernel queues a notification per element.
  ASSERT_TRUE(client_->Commit(TableWithElements(500)).ok());
  EXPECT_TRUE(Readable(NftFd()));
  ChangeMonitor::Changes changes = monitor_->Drain();
  EXPECT_FALSE(changes.nftables) << "the agent's own commit counted as someone else's";
}

TEST_F(ChangeMonitorTest, OwnCommitsCostNoNotifications) {
  client_->set_monitor(monitor_.get());
  ASSERT_TRUE(client_->Commit(TableWithElements(500)).ok());
  EXPECT_FALSE(Readable(NftFd())) << "the kernel notified the monitor of its own commit";
  EXPECT_FALSE(monitor_->Drain().nftables);
  // A failed commit advances nothing and is not someone else's either.
  NftTransaction bad;
  NftOp add;
  add.kind = NftOp::Kind::kAddElements;
  add.name = "no-such-set";
  add.elements = {"192.0.2.1"};
  bad.ops.push_back(add);
  EXPECT_FALSE(client_->Commit(bad).ok());
  EXPECT_FALSE(monitor_->Drain().nftables);
}

TEST_F(ChangeMonitorTest, AnotherWriterIsHeardWithItsPid) {
  client_->set_monitor(monitor_.get());
  ASSERT_TRUE(client_->Commit(TableWithElements(10)).ok());
  ASSERT_TRUE(netns_->RunOk({"nft", "add", "table", "inet", "someone-else"}).ok());
  ChangeMonitor::Changes changes = monitor_->Drain();
  EXPECT_TRUE(changes.nftables);
  ASSERT_EQ(changes.nft_writers.size(), 1u);
  EXPECT_NE(*changes.nft_writers.begin(), 0);
}

TEST_F(ChangeMonitorTest, AnotherWriterDuringAnOwnCommitIsNoticed) {
  // The window in which the monitor does not listen: only the generation tells.
  monitor_->BeginOwnCommit();
  ASSERT_TRUE(netns_->RunOk({"nft", "add", "table", "inet", "someone-else"}).ok());
  monitor_->EndOwnCommit(0);
  ChangeMonitor::Changes changes = monitor_->Drain();
  EXPECT_TRUE(changes.nftables);
  EXPECT_TRUE(changes.nft_writers.contains(0));  // who is not known
  EXPECT_FALSE(monitor_->Drain().nftables) << "reported once";
}

}  // namespace
}  // namespace tabby::dataplane
