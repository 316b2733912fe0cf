// Builders for resources in calc and dataplane tests.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "base/ip.h"
#include "model/resources.h"

namespace tabby::calc::testing {

inline model::Resource Endpoint(const std::string& name, const std::string& node,
                                const std::string& address, model::Labels labels,
                                const std::string& ns = "default") {
  model::Resource r = model::MakeResource(model::Kind::kWorkloadEndpoint, name, ns);
  r.metadata.labels = std::move(labels);
  auto& spec = r.workload_endpoint();
  spec.node = node;
  spec.orchestrator = "test";
  spec.workload = name;
  spec.endpoint = "eth0";
  spec.interface_name = "tabby" + name;
  spec.ip_networks = {address.find(':') == std::string::npos ? address + "/32" : address + "/128"};
  return r;
}

inline IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

// Allows sources that `selector` picks; with `namespace_selector`, in the namespaces it picks.
inline model::Rule RuleAllowFrom(const std::string& selector,
                                 const std::string& namespace_selector = "") {
  model::Rule rule;
  rule.action = model::Action::kAllow;
  rule.source.selector = selector;
  rule.source.namespace_selector = namespace_selector;
  return rule;
}

inline model::Resource GlobalPolicy(const std::string& name, const std::string& selector,
                                    std::vector<model::Rule> ingress) {
  model::Resource r = model::MakeResource(model::Kind::kGlobalNetworkPolicy, name);
  r.policy().selector = selector;
  r.policy().types = {model::PolicyType::kIngress};
  r.policy().ingress = std::move(ingress);
  return r;
}

inline model::Resource NamespacedPolicy(const std::string& ns, const std::string& name,
                                        const std::string& selector,
                                        std::vector<model::Rule> ingress) {
  model::Resource r = model::MakeResource(model::Kind::kNetworkPolicy, name, ns);
  r.policy().selector = selector;
  r.policy().types = {model::PolicyType::kIngress};
  r.policy().ingress = std::move(ingress);
  return r;
}

inline model::Resource ProfileWith(const std::string& name, model::Labels labels_to_apply,
                                   std::vector<model::Rule> ingress) {
  model::Resource r = model::MakeResource(model::Kind::kProfile, name);
  r.profile().labels_to_apply = std::move(labels_to_apply);
  r.profile().ingress = std::move(ingress);
  return r;
}

}  // namespace tabby::calc::testing
