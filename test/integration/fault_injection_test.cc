// Fault injection on one host: tabby-cni killed with SIGKILL at random points of 200 ADDs and
// DELs (DELs with and without the CNI_ARGS ADD had), the agent restarted along the way, and the
// runtime's usual reaction to a failed call (retry it, or DEL after a failed ADD). Afterwards the
// host must be exactly what the live attachments need: IPAM consistent, no address held twice,
// no stale interface or route, a firewall equal to what a fresh agent programs; and after DEL of
// everything, nothing at all.
//
// The random sequence is seeded; the seed is printed so that a failure can be replayed with
// TABBY_FAULT_SEED=<seed>.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "dataplane/kernel_table.h"
#include "host_fixture.h"

namespace tabby::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kSlots = 12;         // workloads that come and go
constexpr int kOperations = 200;   // ADDs and DELs
constexpr int kRestartEvery = 50;  // operations between agent restarts

// One workload sandbox after another in the same network namespace slot.
struct Slot {
  std::unique_ptr<ScopedNetns> netns;
  std::string container;  // the current sandbox's id; empty: none
  int generation = 0;
};

class FaultInjection : public HostFixture {
 protected:
  // Runs tabby-cni for `command` on `slot`'s current container. With `kill_after`, SIGKILLs it
  // after that long (if it is still running) and returns nullopt; else its exit code.
  std::optional<int> Plugin(const std::string& command, const Slot& slot, int index, bool with_args,
                            std::optional<milliseconds> kill_after) {
    std::string conf = dir_->File("fault-netconf.json");
    if (!std::filesystem::exists(conf)) std::ofstream(conf) << cluster_->NetConf(0, false, 0);
    CommandOptions options;
    options.netns_path = host_->path();
    options.env = {"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + slot.container,
                   "CNI_NETNS=" + slot.netns->path(), "CNI_IFNAME=eth0"};
    if (with_args) {
      options.env.push_back(fmt::format(
          "CNI_ARGS=K8S_POD_NAMESPACE=fault;K8S_POD_NAME=w{};TABBY_LABELS=slot=s{}", index, index));
    }
    options.stdin_path = conf;
    auto child = ChildProcess::Start({TABBY_CNI}, options);
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return -1;
    if (kill_after) {
      std::this_thread::sleep_for(*kill_after);
      kill((*child)->pid(), SIGKILL);
      (*child)->Wait(seconds(10));
      return std::nullopt;
    }
    std::optional<int> code = (*child)->Wait(seconds(30));
    EXPECT_TRUE(code.has_value()) << (*child)->Describe();
    EXPECT_EQ(code.value_or(-1), 0)
        << command << " " << slot.container << ": " << (*child)->Describe();
    return code;
  }

  // The table as the kernel holds it, parsed as the agent reads it.
  dataplane::KernelTable Table() {
    CommandResult listed = host_->Run({"nft", "-j", "list", "table", "inet", "tabby"});
    EXPECT_TRUE(listed.ok()) << listed.Describe();
    auto table = dataplane::ParseKernelTable(listed.out);
    EXPECT_TRUE(table.ok()) << table.status();
    return table.ok() ? *table : dataplane::KernelTable{};
  }

  std::set<std::string> HostWorkloadLinks() {
    std::set<std::string> links;
    CommandResult listed = host_->Run({"ip", "-j", "link", "show"});
    EXPECT_TRUE(listed.ok()) << listed.Describe();
    for (const auto& link : json::parse(listed.out, nullptr, false)) {
      std::string name = link.value("ifname", "");
      if (name.starts_with("tabby")) links.insert(name);
    }
    return links;
  }

  // Host routes (/32, /128) with tabby's protocol; blackhole block routes are not workloads'.
  std::set<std::string> HostWorkloadRoutes() {
    std::set<std::string> routes;
    for (const char* family : {"-4", "-6"}) {
      CommandResult listed = host_->Run({"ip", family, "-j", "route", "show", "proto", "197"});
      EXPECT_TRUE(listed.ok()) << listed.Describe();
      for (const auto& route : json::parse(listed.out, nullptr, false)) {
        if (route.value("type", "") == "blackhole") continue;
        if (route.value("dev", "") == "lo") continue;  // the gateway's, for every workload
        routes.insert(route.value("dst", "") + " " + route.value("dev", ""));
      }
    }
    return routes;
  }

  json Endpoints() {
    CommandResult got = Ctl({"get", "workloadendpoints", "-A", "-o", "json"});
    EXPECT_TRUE(got.ok()) << got.Describe();
    json parsed = json::parse(got.out, nullptr, false);
    return parsed.is_object() && parsed.contains("items") ? parsed["items"] : json::array();
  }

  // Everything on the host matches the endpoints, which match the live sandboxes.
  void ExpectHostMatchesEndpoints(const std::vector<Slot>& slots) {
    std::set<std::string> live, recorded, interfaces, routes;
    for (const auto& slot : slots) {
      if (!slot.container.empty()) live.insert(slot.container);
    }
    for (const auto& endpoint : Endpoints()) {
      const json& spec = endpoint["spec"];
      recorded.insert(spec.value("containerID", ""));
      interfaces.insert(spec.value("interfaceName", ""));
      for (const auto& network : spec.value("ipNetworks", json::array())) {
        std::string text = network.get<std::string>();
        routes.insert(text.substr(0, text.find('/')) + " " + spec.value("interfaceName", ""));
      }
    }
    EXPECT_EQ(recorded, live) << "endpoints do not match the live sandboxes";
    EXPECT_EQ(HostWorkloadLinks(), interfaces) << "stale or missing veths";
    EXPECT_EQ(HostWorkloadRoutes(), routes) << "stale or missing routes";
    CommandResult check = Ctl({"ipam", "check", "--grace", "0s"});
    EXPECT_TRUE(check.ok()) << check.Describe() << check.out;
  }
};

TEST_F(FaultInjection, KilledPluginsAndAgentRestartsLeaveNothingInconsistent) {
  const char* seed_text = std::getenv("TABBY_FAULT_SEED");
  const uint32_t seed = seed_text != nullptr
                            ? static_cast<uint32_t>(std::strtoul(seed_text, nullptr, 10))
                            : std::random_device{}();
  SCOPED_TRACE(fmt::format("TABBY_FAULT_SEED={}", seed));
  std::mt19937 random(seed);
  auto chance = [&](int percent) { return static_cast<int>(random() % 100) < percent; };

  std::vector<Slot> slots(kSlots);
  for (auto& slot : slots) {
    auto netns = ScopedNetns::Create();
    ASSERT_TRUE(netns.ok()) << netns.status();
    slot.netns = std::make_unique<ScopedNetns>(std::move(*netns));
  }
  int killed = 0;
  for (int op = 0; op < kOperations; ++op) {
    if (op % kRestartEvery == kRestartEvery - 1) {
      agent()->Stop();
      StartAgent();
    }
    const int index = static_cast<int>(random() % kSlots);
    Slot& slot = slots[index];
    const bool add = slot.container.empty();
    if (add) slot.container = fmt::format("ctr-{}-{}", index, ++slot.generation);
    const std::string command = add ? "ADD" : "DEL";
    const bool with_args = add || chance(50);
    std::optional<milliseconds> kill_after;
    if (chance(40)) kill_after = milliseconds(random() % 25);  // a call takes ~20 ms
    if (Plugin(command, slot, index, with_args, kill_after).has_value()) {
      if (!add) slot.container.clear();
      continue;
    }
    ++killed;
    // The runtime saw the call fail. A failed DEL is retried; after a failed ADD it either
    // retries the ADD or gives the sandbox up with a DEL (with or without CNI_ARGS).
    if (!add) {
      Plugin("DEL", slot, index, chance(50), std::nullopt);
      slot.container.clear();
    } else if (chance(50)) {
      Plugin("ADD", slot, index, true, std::nullopt);
    } else {
      Plugin("DEL", slot, index, chance(50), std::nullopt);
      slot.container.clear();
    }
  }
  RecordProperty("killed", killed);
  agent()->Stop();
  StartAgent();
  WaitProgrammed();
  ExpectHostMatchesEndpoints(slots);

  // The firewall equals what a fresh agent programs from scratch.
  const dataplane::KernelTable programmed = Table();
  agent()->Stop();
  ASSERT_TRUE(host_->RunOk({"nft", "delete", "table", "inet", "tabby"}).ok());
  StartAgent();
  WaitProgrammed();
  EXPECT_TRUE(Table() == programmed) << "the running agent's table differs from a fresh agent's";

  // And after every sandbox is deleted, nothing is left.
  for (int index = 0; index < kSlots; ++index) {
    Slot& slot = slots[index];
    if (slot.container.empty()) continue;
    Plugin("DEL", slot, index, chance(50), std::nullopt);
    slot.container.clear();
  }
  WaitProgrammed();
  ExpectHostMatchesEndpoints(slots);
  EXPECT_TRUE(HostWorkloadLinks().empty());
  EXPECT_TRUE(Endpoints().empty());  // with `ipam check --grace 0s` clean: nothing allocated
}

}  // namespace
}  // namespace tabby::test
