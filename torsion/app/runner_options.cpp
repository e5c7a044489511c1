// torsiond's command line: twistd's options where they make sense, one CLI11 subcommand per
// plugin.
#include <CLI/CLI.hpp>
#include <ostream>

#include "torsion/app/daemon.hpp"
#include "torsion/app/runner.hpp"

#ifndef TORSION_VERSION
#define TORSION_VERSION "0"
#endif

namespace torsion::app {
namespace {

// CLI11's messages, made one line, with the name of the option or plugin kept.
std::string oneLine(std::string message) {
  for (auto& c : message) {
    if (c == '\n') {
      c = ' ';
    }
  }
  while (!message.empty() && message.back() == ' ') {
    message.pop_back();
  }
  return message;
}

const char* kReactors[][2] = {
    {"epoll", "epoll(7)-based reactor (the default on Linux)"},
    {"poll", "poll(2)-based reactor (the portable fallback)"},
};

}  // namespace

ParseOutcome parseCommandLine(int argc, const char* const* argv, PluginRegistry& registry,
                              std::ostream& out, std::ostream& err) {
  ParseOutcome outcome;
  RunnerOptions& o = outcome.options;

  CLI::App app("torsiond: run a torsion application (the twin of Twisted's twistd).", "torsiond");
  app.set_help_flag("--help", "Show this help and exit (torsiond PLUGIN --help: its options)");
  bool version = false, helpReactors = false;
  std::string umask, logFormat = o.logFormat, logLevel = "info";
  app.add_flag("-n,--nodaemon", o.nodaemon, "Don't daemonize, don't use the default umask of 0077");
  app.add_option("--pidfile", o.pidfile, "Name of the pid file ('' for none)")
      ->capture_default_str();
  app.add_option("-l,--logfile", o.logfile,
                 "Log to this file ('-' for stdout; default stdout with -n, else torsiond.log)");
  app.add_option("--log-rotate-length", o.logRotateLength,
                 "Rotate the log file past this many bytes (0: never)")
      ->capture_default_str();
  app.add_option("--log-format", logFormat, "Log format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", logLevel, "Least level logged")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "critical"}))
      ->capture_default_str();
  app.add_flag("--syslog", o.syslog, "Log to syslog, not to a file");
  app.add_option("--prefix", o.syslogPrefix, "Syslog prefix")->capture_default_str();
  app.add_option("-d,--rundir", o.rundir, "Change to this directory before running")
      ->capture_default_str();
  app.add_option("--umask", umask, "The (octal) file creation mask to apply");
  app.add_option("-u,--uid", o.uid, "The uid (or user name) to run as");
  app.add_option("-g,--gid", o.gid, "The gid (or group name) to run as");
  app.add_option("-r,--reactor", o.reactor, "Which reactor to use (see --help-reactors)")
      ->check(CLI::IsMember({"epoll", "poll"}));
  app.add_flag("--help-reactors", helpReactors, "Display a list of possibly available reactors");
  app.add_option("--workers", o.workers,
                 "Processes sharing the listening ports (SO_REUSEPORT), one per core")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--state", o.stateFile,
                 "Restore the application's state from this file and save it there at exit");
  app.add_flag("-o,--no-save,--no_save", o.noSave, "Do not save the state at exit");
  app.add_flag("--version", version, "Print version information and exit");

  app.require_subcommand(0, 1);
  app.fallthrough(false);
  std::vector<std::pair<CLI::App*, ServiceMaker*>> commands;
  for (ServiceMaker* maker : registry.plugins()) {
    CLI::App* cmd = app.add_subcommand(maker->name(), maker->description());
    cmd->set_help_flag("--help", "Show this plugin's options and exit");
    maker->addOptions(*cmd);
    commands.emplace_back(cmd, maker);
  }
  app.footer(
      "Run 'torsiond PLUGIN --help' for a plugin's options. External plugins are loaded from\n"
      "the directories on TORSION_PLUGIN_PATH.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    // The help of the deepest subcommand that asked for it.
    for (auto& [cmd, maker] : commands) {
      if (cmd->parsed() && cmd->get_help_ptr()->count() > 0) {
        out << cmd->help();
        outcome.exitStatus = 0;
        return outcome;
      }
    }
    out << app.help();
    outcome.exitStatus = 0;
    return outcome;
  } catch (const CLI::ExtrasError& e) {
    // A first stray word that is not an option is a plugin name we do not know.
    auto extras = app.remaining();
    if (app.get_subcommands().empty() && !extras.empty() && !extras.front().empty() &&
        extras.front()[0] != '-') {
      err << "torsiond: error: unknown plugin '" << extras.front()
          << "' (torsiond --help lists the plugins)\n";
    } else {
      err << "torsiond: error: " << oneLine(e.what()) << "\n";
    }
    outcome.exitStatus = 2;
    return outcome;
  } catch (const CLI::ParseError& e) {
    err << "torsiond: error: " << oneLine(e.what()) << "\n";
    outcome.exitStatus = 2;
    return outcome;
  } catch (const UsageError& e) {
    err << "torsiond: error: " << e.what() << "\n";
    outcome.exitStatus = 2;
    return outcome;
  }

  if (version) {
    out << "torsiond (torsion) " << TORSION_VERSION << "\n";
    outcome.exitStatus = 0;
    return outcome;
  }
  if (helpReactors) {
    for (const auto& [name, description] : kReactors) {
      out << "    " << name << "\t" << description << "\n";
    }
    outcome.exitStatus = 0;
    return outcome;
  }
  try {
    if (!umask.empty()) {
      o.umask = parseUmask(umask);
    }
  } catch (const ProcessSetupError& e) {
    err << "torsiond: error: --umask: " << e.what() << "\n";
    outcome.exitStatus = 2;
    return outcome;
  }
  o.logFormat = logFormat;
  o.logLevel = *parseLogLevel(logLevel);
  for (auto& [cmd, maker] : commands) {
    if (cmd->parsed()) {
      o.plugin = maker;
    }
  }
  if (o.plugin == nullptr) {
    err << "torsiond: error: no plugin given (torsiond --help lists the plugins)\n";
    outcome.exitStatus = 2;
    return outcome;
  }
  if (o.workers > 1 && !o.stateFile.empty()) {
    err << "torsiond: error: --state needs a single worker (--workers 1)\n";
    outcome.exitStatus = 2;
    return outcome;
  }
  return outcome;
}

}  // namespace torsion::app
