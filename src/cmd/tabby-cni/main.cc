// tabby-cni: the CNI plugin binary (network type "tabby"). The container runtime runs it with
// CNI_* variables in the environment and the network configuration on stdin.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <iterator>

#include "cni/plugin.h"
#include "cni/workload_network.h"
#include "datastore/datastore.h"

int main() {
  // stdout carries the CNI result: the libraries' log lines (etcd retries) go to stderr, which
  // runtimes keep in their logs.
  spdlog::set_default_logger(spdlog::stderr_logger_st("tabby-cni"));
  spdlog::set_level(spdlog::level::warn);
  std::string input(std::istreambuf_iterator<char>(std::cin), {});
  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  auto network = tabby::cni::MakeLinuxWorkloadNetwork();
  tabby::cni::PluginEnvironment environment{
      .getenv = [](const char* name) -> std::optional<std::string> {
        const char* value = std::getenv(name);
        if (value == nullptr) return std::nullopt;
        return std::string(value);
      },
      // The runtime waits on the plugin: an unreachable etcd is "try again" after 5 s.
      .open_datastore =
          [](const std::string& url) {
            return tabby::datastore::Open(url, {.request_timeout = absl::Seconds(5)});
          },
      .network = network.get(),
      .hostname = hostname,
  };
  tabby::cni::PluginOutput output = tabby::cni::RunPlugin(environment, input);
  std::cout << output.stdout_text;
  if (!output.stdout_text.empty() && output.stdout_text.back() != '\n') std::cout << '\n';
  std::cerr << output.stderr_text;
  return output.exit_code;
}
