#include "torsion/app/runner.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <utility>

#include "torsion/app/daemon.hpp"
#include "torsion/app/logfile.hpp"
#include "torsion/app/persist.hpp"
#include "torsion/app/pidfile.hpp"
#include "torsion/app/syslog_observer.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/log/filter.hpp"
#include "torsion/log/json_observer.hpp"
#include "torsion/log/logger.hpp"
#include "torsion/log/publisher.hpp"
#include "torsion/log/text_observer.hpp"
#include "torsion/net/network.hpp"

namespace torsion::app {
namespace {

const Logger& log() {
  static const Logger logger("torsion.app.runner");
  return logger;
}

// How a process tells whoever launched it whether the application started.
struct StartupReport {
  std::function<void()> started = [] {};
  // In a forked worker: let go of the launcher's status pipe without reporting.
  std::function<void()> abandon = [] {};
  // Prints or forwards `message` and returns the status to exit with.
  std::function<int(const std::string& message, int status)> failed = [](const std::string& message,
                                                                         int status) {
    std::cerr << "torsiond: " << message << "\n";
    return status;
  };
};

std::string describeCurrentException() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// Where the log goes: stdout, a rotating LogFile (reopened on SIGUSR1), or syslog.
struct Logging {
  std::shared_ptr<LogFile> file;
  ObserverToken token;
  bool toTerminal = false;  // stdout, with -n: errors are already printed on stderr

  ~Logging() {
    if (token) {
      globalLogPublisher().removeObserver(token);
    }
  }
};

void startLogging(const RunnerOptions& o, Logging& logging) {
  auto filter = std::make_shared<LogLevelFilter>(o.logLevel);
  LogObserver sink;
  std::string target = o.logfile.value_or(o.nodaemon ? "-" : "torsiond.log");
  bool json = o.logFormat == "json";
  if (o.syslog) {
    sink = syslogObserver(o.syslogPrefix);
  } else if (target == "-") {
    sink = json ? jsonFileObserver(stdout) : textFileObserver(stdout);
    logging.toTerminal = o.nodaemon;
  } else {
    LogFile::Options options;
    options.rotateLength = o.logRotateLength;
    logging.file = std::make_shared<LogFile>(target, options);
    sink = logFileObserver(logging.file, json ? LogFileFormat::json : LogFileFormat::text);
  }
  logging.token = globalLogPublisher().addObserver(
      [filter, sink = std::move(sink)](const LogEvent& event) {
        if (filter->passes(event)) {
          sink(event);
        }
      },
      "torsiond log");
}

// SIGUSR1 reopens the log file (after logrotate moved it), through a signalfd the reactor
// watches. The signal is blocked before the reactor starts any thread, so every thread
// inherits the mask and the signal is only ever read here.
class ReopenOnSigusr1 final : public IReadDescriptor {
 public:
  ReopenOnSigusr1(Reactor& reactor, std::shared_ptr<LogFile> file)
      : reactor_(reactor), file_(std::move(file)) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ >= 0) {
      reactor_.addReader(this);
    }
  }
  ~ReopenOnSigusr1() override {
    if (fd_ >= 0) {
      reactor_.removeReader(this);
      ::close(fd_);
    }
  }
  int fileno() const override { return fd_; }
  void doRead() override {
    signalfd_siginfo info;
    while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    }
    if (file_) {
      file_->reopen();
      log().info("Received SIGUSR1, reopened the log file {file}",
                 {{"file", file_->path().string()}});
    }
  }

 private:
  Reactor& reactor_;
  std::shared_ptr<LogFile> file_;
  int fd_ = -1;
};

// One process's application: build, restore, start, run, stop, save.
int runOneProcess(const RunnerOptions& o, bool reusePort, StartupReport report,
                  const std::shared_ptr<LogFile>& logFile) {
  Reactor::Options reactorOptions;
  reactorOptions.poller = o.reactor;
  reactorOptions.exitOnSecondSignal = true;
  std::optional<Reactor> reactor;
  try {
    reactor.emplace(reactorOptions);
  } catch (...) {
    return report.failed("cannot create the reactor: " + describeCurrentException(), 1);
  }
  PluginContext context{*reactor, network(*reactor), reusePort};
  auto application = std::make_shared<Application>(o.plugin->name());
  try {
    auto service = o.plugin->makeService(context);
    if (service->name().empty()) {
      service->setName(o.plugin->name());
    }
    service->setServiceParent(*application);
  } catch (const UsageError& e) {
    return report.failed(std::string("error: ") + e.what(), 2);
  } catch (...) {
    return report.failed("cannot build the application: " + describeCurrentException(), 1);
  }
  if (!o.stateFile.empty()) {
    try {
      if (restoreApplication(*application, o.stateFile)) {
        log().info("Restored the application's state from {file}", {{"file", o.stateFile}});
      }
    } catch (...) {
      return report.failed("cannot restore the state: " + describeCurrentException(), 1);
    }
  }
  try {
    application->start(*reactor, [&] {
      if (!o.uid.empty() || !o.gid.empty()) {
        switchUidGid(o.uid.empty() ? std::nullopt : std::optional<std::string>(o.uid),
                     o.gid.empty() ? std::nullopt : std::optional<std::string>(o.gid));
      }
    });
  } catch (...) {
    return report.failed(describeCurrentException(), 1);
  }
  if (!o.stateFile.empty() && !o.noSave) {
    reactor->addSystemEventTrigger(Reactor::Phase::after, "shutdown", [&] {
      try {
        saveApplication(*application, o.stateFile);
        log().info("Saved the application's state to {file}", {{"file", o.stateFile}});
      } catch (...) {
        log().failure("Cannot save the application's state", LogLevel::error);
      }
    });
  }
  std::optional<ReopenOnSigusr1> reopen;
  if (logFile) {
    reopen.emplace(*reactor, logFile);
  }
  // "Started" is said once the reactor runs, that is after its "startup" event installed the
  // SIGTERM/SIGINT handlers: whoever reads "starting up" (or sees the launcher exit 0) may
  // send SIGTERM at once and get a graceful stop, not the signal's default action (which
  // would leave the pid file behind and lose the --state).
  reactor->callWhenRunning([&] {
    log().info("torsiond {plugin} starting up (reactor: {reactor}, pid {pid})",
               {{"plugin", o.plugin->name()},
                {"reactor", reactor->pollerName()},
                {"pid", static_cast<std::int64_t>(::getpid())}});
    report.started();
  });
  reactor->run();
  log().info("Main loop terminated.");
  return 0;
}

// --workers N: N processes, each with its own reactor and its own copy of the tree, sharing
// the listening ports through SO_REUSEPORT. This process only supervises: it reports
// "started" once every worker has, forwards SIGTERM/SIGINT to them and exits when all have.
int runWorkers(const RunnerOptions& o, StartupReport report,
               const std::shared_ptr<LogFile>& logFile) {
  // Block the stop signals before forking so none is lost between fork and sigwait; workers
  // unblock them (their reactor handles them).
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGCHLD);
  sigaddset(&stopSignals, SIGUSR1);
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &stopSignals, &previous);

  std::vector<pid_t> workers;
  std::vector<int> statusReads;
  for (int i = 0; i < o.workers; ++i) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      return report.failed(std::string("pipe: ") + std::strerror(errno), 1);
    }
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
      return report.failed(std::string("fork: ") + std::strerror(errno), 1);
    }
    if (pid == 0) {
      ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
      report.abandon();
      ::close(fds[0]);
      int statusFd = fds[1];
      StartupReport child;
      child.started = [statusFd] {
        (void)!::write(statusFd, "0", 1);
        ::close(statusFd);
      };
      child.failed = [statusFd](const std::string& message, int status) {
        std::string line = std::to_string(status) + " " + message;
        (void)!::write(statusFd, line.data(), line.size());
        ::close(statusFd);
        return status;
      };
      std::_Exit(runOneProcess(o, true, child, logFile));
    }
    ::close(fds[1]);
    workers.push_back(pid);
    statusReads.push_back(fds[0]);
  }

  auto stopAll = [&](int signo) {
    for (pid_t pid : workers) {
      if (pid > 0) {
        ::kill(pid, signo);
      }
    }
  };
  // Every worker reports once: "0" for started, "<status> <message>" for a failure, nothing
  // (EOF) if it died first.
  for (std::size_t i = 0; i < statusReads.size(); ++i) {
    std::string message;
    char buf[512];
    ssize_t n;
    while ((n = ::read(statusReads[i], buf, sizeof buf)) != 0) {
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        break;
      }
      message.append(buf, static_cast<std::size_t>(n));
    }
    ::close(statusReads[i]);
    if (message != "0") {
      stopAll(SIGKILL);
      for (pid_t pid : workers) {
        ::waitpid(pid, nullptr, 0);
      }
      if (message.empty()) {
        return report.failed("worker " + std::to_string(i + 1) + " died while starting", 1);
      }
      auto space = message.find(' ');
      int status = std::atoi(message.substr(0, space).c_str());
      return report.failed(space == std::string::npos ? message : message.substr(space + 1),
                           status == 0 ? 1 : status);
    }
  }
  report.started();
  log().info("{count} workers running", {{"count", static_cast<std::int64_t>(o.workers)}});

  std::size_t alive = workers.size();
  bool stopping = false;
  int exitStatus = 0;
  while (alive > 0) {
    int signo = 0;
    if (::sigwait(&stopSignals, &signo) != 0) {
      continue;
    }
    if (signo == SIGCHLD) {
      int status = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        for (auto& w : workers) {
          if (w == pid) {
            w = 0;
            --alive;
            if (!stopping) {
              log().error("Worker {pid} exited unexpectedly (status {status})",
                          {{"pid", static_cast<std::int64_t>(pid)},
                           {"status", static_cast<std::int64_t>(status)}});
              exitStatus = 1;
            }
          }
        }
      }
      continue;
    }
    if (signo == SIGUSR1) {
      stopAll(SIGUSR1);  // each worker reopens its log file
      continue;
    }
    if (stopping) {
      log().warn("Received a second stop signal, killing the workers.");
      stopAll(SIGKILL);
      continue;
    }
    stopping = true;
    log().info(
        "Received signal {signo}, stopping {count} workers.",
        {{"signo", static_cast<std::int64_t>(signo)}, {"count", static_cast<std::int64_t>(alive)}});
    stopAll(SIGTERM);
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return exitStatus;
}

}  // namespace

int runApplication(const RunnerOptions& o) {
  if (o.plugin == nullptr) {
    std::cerr << "torsiond: error: no plugin given\n";
    return 2;
  }
  // Until daemonised, errors go to the terminal; after, through the status pipe, which the
  // launching command prints. Either way they are logged once logging has started.
  DaemonChild daemon;
  // A daemon's failure reaches the launcher last, when the locals below (the pid file, the
  // log) are gone and the application's ports are closed: a command retried as soon as the
  // launcher returned must not find our pid file ("Another server is running") or our port.
  std::optional<std::pair<std::string, int>> failure;
  struct ReportFailureLast {
    DaemonChild& daemon;
    std::optional<std::pair<std::string, int>>& failure;
    ~ReportFailureLast() {
      if (failure) {
        daemon.reportFailed(failure->first, failure->second);
      }
    }
  } reportFailureLast{daemon, failure};
  Logging logging;
  StartupReport report;
  report.started = [&daemon] { daemon.reportStarted(); };
  report.abandon = [&daemon] { daemon.abandon(); };
  report.failed = [&daemon, &logging, &failure](const std::string& message, int status) {
    if (logging.token && !logging.toTerminal) {
      log().critical("{message}", {{"message", message}});
    }
    if (daemon.connected()) {
      failure.emplace(message, status);
    } else {
      std::cerr << "torsiond: " << message << "\n";
    }
    return status;
  };
  try {
    changeDirectory(o.rundir);
    if (!o.pidfile.empty()) {
      checkPidFile(o.pidfile);  // refused at the terminal, before daemonising
    }
    if (!o.nodaemon) {
      // No thread exists yet: the reactor (and its thread pool) is made after this.
      daemon = daemonize();
    }
    applyUmask(o.umask, !o.nodaemon);
  } catch (const std::exception& e) {
    return report.failed(e.what(), 1);
  }
  try {
    startLogging(o, logging);
  } catch (const std::exception& e) {
    return report.failed(std::string("cannot open the log: ") + e.what(), 1);
  }
  PidFile pidfile;
  if (!o.pidfile.empty()) {
    try {
      pidfile = PidFile::acquire(o.pidfile);
    } catch (const std::exception& e) {
      return report.failed(e.what(), 1);
    }
  }
  int status = o.workers > 1 ? runWorkers(o, report, logging.file)
                             : runOneProcess(o, false, report, logging.file);
  std::fflush(stdout);
  return status;
}

int torsiondMain(int argc, char** argv) {
  PluginRegistry registry;
  try {
    addBuiltinPlugins(registry);
    if (const char* path = std::getenv("TORSION_PLUGIN_PATH")) {
      registry.loadSearchPath(path);
    }
  } catch (const std::exception& e) {
    std::cerr << "torsiond: error: " << e.what() << "\n";
    return 2;
  }
  auto parsed = parseCommandLine(argc, argv, registry, std::cout, std::cerr);
  if (parsed.exitStatus) {
    return *parsed.exitStatus;
  }
  return runApplication(parsed.options);
}

}  // namespace torsion::app
