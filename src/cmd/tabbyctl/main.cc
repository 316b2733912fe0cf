// tabbyctl: the operator's command-line tool (apply, create, replace, delete, get, label). All of
// it lives in src/ctl; this only hands over argv, the standard streams and the environment.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <string>
#include <vector>

#include "ctl/ctl.h"

int main(int argc, char** argv) {
  // stdout carries results (-o json, tables): the libraries' log lines go to stderr.
  spdlog::set_default_logger(spdlog::stderr_logger_st("tabbyctl"));
  spdlog::set_level(spdlog::level::warn);
  std::vector<std::string> args(argv + 1, argv + argc);
  return tabby::ctl::RunCtl(args, std::cin, std::cout, std::cerr,
                            tabby::ctl::CtlEnvironment::System());
}
