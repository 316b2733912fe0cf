// Host protection end to end: a HostEndpoint on the host's interface to the outside, policy that
// opens and closes the host's own ports, failsafe ports that no policy closes, and the three
// workload-to-host actions. Real packets between network namespaces:
//
//   outside netns  eth0 192.0.2.2/24  <->  ext0 192.0.2.1/24  host netns (tabbyd, probe server)
//                                          tabby* veths       workloads
#include <gtest/gtest.h>

#include "host_fixture.h"

namespace tabby::test {
namespace {

constexpr char kHostAddress[] = "192.0.2.1";

class HostEndpoints : public HostFixture {
 protected:
  void SetUp() override {
    HostFixture::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    auto outside = ScopedNetns::Create();
    ASSERT_TRUE(outside.ok()) << outside.status();
    outside_ = std::make_unique<ScopedNetns>(std::move(*outside));
    ASSERT_TRUE(host_
                    ->RunOk({"ip", "link", "add", "ext0", "type", "veth", "peer", "name", "eth0",
                             "netns", outside_->path()})
                    .ok());
    ASSERT_TRUE(host_->RunOk({"ip", "addr", "add", "192.0.2.1/24", "dev", "ext0"}).ok());
    ASSERT_TRUE(host_->RunOk({"ip", "link", "set", "ext0", "up"}).ok());
    ASSERT_TRUE(outside_->RunOk({"ip", "addr", "add", "192.0.2.2/24", "dev", "eth0"}).ok());
    ASSERT_TRUE(outside_->RunOk({"ip", "link", "set", "eth0", "up"}).ok());
    ASSERT_TRUE(outside_->RunOk({"ip", "link", "set", "lo", "up"}).ok());
    // The host's own services: SSH's port (failsafe) and two application ports.
    auto server = host_->Start({TABBY_PROBE, "serve", "--tcp", "22,8080,8081"},
                               CommandOptions{.env = {"TABBY_PROBE_NAME=host"}});
    ASSERT_TRUE(server.ok()) << server.status();
    host_server_ = std::move(*server);
    ASSERT_TRUE(host_server_->WaitForOutput("ready", std::chrono::seconds(10)))
        << host_server_->Describe();
  }

  void TearDown() override {
    if (host_server_) host_server_->Stop();
    outside_.reset();  // takes the veth pair with it
    HostFixture::TearDown();
  }

  // A TCP connection from the outside to the host's address.
  bool OutsideReachesHost(int port) {
    return outside_
        ->Run({TABBY_PROBE, "connect", "--tcp", kHostAddress, std::to_string(port), "--timeout-ms",
               "400"})
        .ok();
  }

  bool WorkloadReachesHost(const std::string& workload, int port) {
    return workloads_.at(workload)
        .netns
        ->Run({TABBY_PROBE, "connect", "--tcp", kHostAddress, std::to_string(port), "--timeout-ms",
               "400"})
        .ok();
  }

  void SetEndpointToHostAction(const std::string& action) {
    Apply(fmt::format(R"(
apiVersion: projectcalico.org/v3
kind: ClusterConfiguration
metadata: {{name: default}}
spec: {{defaultEndpointToHostAction: {}}}
)",
                      action));
  }

  static constexpr char kHostEndpoint[] = R"(
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: host1-ext0, labels: {role: edge}}
spec: {node: host1, interfaceName: ext0, expectedIPs: [192.0.2.1]}
)";

  std::unique_ptr<ScopedNetns> outside_;
  std::unique_ptr<ChildProcess> host_server_;
};

TEST_F(HostEndpoints, PolicyOnTheHostInterfaceAllowsAndDenies) {
  // No host endpoint: the host is not tabby's business.
  EXPECT_TRUE(OutsideReachesHost(8080));
  EXPECT_TRUE(OutsideReachesHost(8081));

  // A host endpoint that no policy selects closes the interface, but for the failsafe ports.
  Apply(kHostEndpoint);
  EXPECT_FALSE(OutsideReachesHost(8080));
  EXPECT_FALSE(OutsideReachesHost(8081));
  EXPECT_TRUE(OutsideReachesHost(22));

  // Policy opens what the host serves, and nothing else.
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: edge-web}
spec:
  selector: role == 'edge'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}]
  egress: [{action: Allow}]
)");
  EXPECT_TRUE(OutsideReachesHost(8080));
  EXPECT_FALSE(OutsideReachesHost(8081));

  // Removing the host endpoint opens the host again.
  ASSERT_TRUE(Ctl({"delete", "hostendpoint", "host1-ext0"}).ok());
  WaitProgrammed();
  EXPECT_TRUE(OutsideReachesHost(8081));
}

TEST_F(HostEndpoints, FailsafePortsStayOpenUnderADenyAllHostPolicy) {
  Apply(std::string(kHostEndpoint) + R"(
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-all-hosts}
spec:
  selector: has(role)
  types: [Ingress, Egress]
  ingress: [{action: Deny}]
  egress: [{action: Deny}]
)");
  EXPECT_FALSE(OutsideReachesHost(8080));
  EXPECT_TRUE(OutsideReachesHost(22)) << "failsafe SSH closed by policy";

  // The failsafe list is the operator's: without 22 in it, the deny-all policy closes SSH too.
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: ClusterConfiguration
metadata: {name: default}
spec: {failsafeInboundHostPorts: [{protocol: TCP, port: 8081}]}
)");
  EXPECT_FALSE(OutsideReachesHost(22));
  EXPECT_TRUE(OutsideReachesHost(8081));
}

TEST_F(HostEndpoints, WorkloadToHostFollowsDefaultEndpointToHostAction) {
  AddWorkload("a", "app=a");
  // The default: Drop.
  EXPECT_FALSE(WorkloadReachesHost("a", 8080));
  EXPECT_EQ(host_->Run({"nft", "list", "counter", "inet", "tabby", "drop-endpoint-to-host"})
                .out.find("packets 0 "),
            std::string::npos)
      << "the drop is not counted";

  SetEndpointToHostAction("Accept");
  EXPECT_TRUE(WorkloadReachesHost("a", 8080));

  // The workload's own egress policy still comes first.
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: a-egress}
spec:
  selector: app == 'a'
  egress: [{action: Allow, protocol: TCP, destination: {ports: [8081]}}]
)");
  EXPECT_FALSE(WorkloadReachesHost("a", 8080));
  EXPECT_TRUE(WorkloadReachesHost("a", 8081));

  // Return: on to host endpoint policy. Without an all-interfaces host endpoint, nothing of
  // tabby's applies after the workload's egress policy.
  SetEndpointToHostAction("Return");
  EXPECT_TRUE(WorkloadReachesHost("a", 8081));
  // With one, its ingress policy decides (here: none, so closed).
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: host1-all, labels: {role: any-interface}}
spec: {node: host1, interfaceName: "*"}
)");
  EXPECT_FALSE(WorkloadReachesHost("a", 8081));
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-from-workloads}
spec:
  selector: role == 'any-interface'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [8081]}}]
  egress: [{action: Allow}]
)");
  EXPECT_TRUE(WorkloadReachesHost("a", 8081));
}

}  // namespace
}  // namespace tabby::test
