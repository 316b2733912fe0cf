// Fuzzes what the CNI plugin reads from its caller: the first line of the input is CNI_ARGS,
// the rest is the network configuration on stdin. Parsing must never crash, and every refusal
// must carry a spec error code; an accepted configuration must resolve a workload identity or
// refuse it with a code too.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cni/netconf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string args = newline == std::string::npos ? input : input.substr(0, newline);
  std::string config = newline == std::string::npos ? "" : input.substr(newline + 1);
  for (const char* command : {"ADD", "DEL", "CHECK", "GC"}) {
    auto env = [&](const char* name) -> std::optional<std::string> {
      std::string key = name;
      if (key == "CNI_COMMAND") return std::string(command);
      if (key == "CNI_CONTAINERID") return std::string("fuzz");
      if (key == "CNI_NETNS") return std::string("/var/run/netns/fuzz");
      if (key == "CNI_IFNAME") return std::string("eth0");
      if (key == "CNI_ARGS") return args;
      return std::nullopt;
    };
    tabby::cni::ParseResult parsed = tabby::cni::ParseInvocation(env, config);
    if (parsed.invocation.has_value() == parsed.error.has_value()) std::abort();
    if (parsed.error) {
      if (static_cast<int>(parsed.error->code) <= 0 || parsed.error->message.empty()) std::abort();
      (void)parsed.error->ToJson(parsed.cni_version);
      continue;
    }
    tabby::cni::WorkloadIdentity identity;
    auto refused = tabby::cni::ResolveIdentity(*parsed.invocation, identity);
    if (refused && static_cast<int>(refused->code) <= 0) std::abort();
    bool needs_container = std::string(command) != "GC";
    if (!refused && needs_container && identity.workload.empty()) std::abort();
  }
  return 0;
}
