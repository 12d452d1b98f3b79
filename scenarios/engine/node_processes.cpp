#include "scenarios/engine/node_processes.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/error.hpp"

extern char** environ;

namespace keel::scenarios {

namespace {

using steady = std::chrono::steady_clock;

} // namespace

caf::expected<std::vector<uint16_t>> free_ports(size_t n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  auto close_all = [&] {
    for (auto fd : fds)
      ::close(fd);
  };
  for (size_t i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      close_all();
      return make_error(error_code::unavailable,
                        std::string{"socket: "} + std::strerror(errno));
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
        || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      close_all();
      return make_error(error_code::unavailable,
                        std::string{"bind 127.0.0.1:0: "}
                          + std::strerror(errno));
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  close_all();
  return ports;
}

node_processes::node_processes(std::string binary, std::string dir,
                               std::string secret, int64_t origin_ns)
  : binary_(std::move(binary)),
    dir_(std::move(dir)),
    secret_(std::move(secret)),
    origin_ns_(origin_ns) {
}

node_processes::~node_processes() {
  std::ostringstream ignored;
  reap_all(ignored);
}

std::string node_processes::log_path(const node_id& n) const {
  return dir_ + "/" + n + ".log";
}

std::string node_processes::trace_path(const node_id& n) const {
  return dir_ + "/" + n + ".trace";
}

std::string node_processes::cluster_path() const {
  return dir_ + "/cluster.json";
}

std::string node_processes::start(const node_id& n,
                                  const std::string& cluster_file,
                                  const std::string& secret) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (running_.count(n) > 0)
    return "node " + n + " is already running (pid "
           + std::to_string(running_[n]) + ")";
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls (this process has threads).
  std::vector<std::string> args{
    binary_,   "node",      "--cluster",
    cluster_file.empty() ? cluster_path() : cluster_file,
    "--name",  n,           "--trace",
    trace_path(n), "--origin-ns", std::to_string(origin_ns_)};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  auto prefix = std::string{secret_variable} + "=";
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0)
      env_strings.emplace_back(*e);
  env_strings.push_back(prefix + (secret.empty() ? secret_ : secret));
  std::vector<char*> envp;
  for (auto& e : env_strings)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  int log_fd = ::open(log_path(n).c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return log_path(n) + ": " + std::strerror(errno);
  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return std::string{"fork: "} + std::strerror(errno);
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execve(binary_.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  running_[n] = pid;
  stopped_.erase(n);
  return {};
}

std::string node_processes::signal(const node_id& n, int sig) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = running_.find(n);
  if (i == running_.end())
    return "node " + n + " is not running";
  if (::kill(i->second, sig) != 0)
    return "kill(" + std::to_string(i->second) + ", " + std::to_string(sig)
           + "): " + std::strerror(errno);
  if (sig == SIGSTOP)
    stopped_.insert(n);
  else if (sig == SIGCONT)
    stopped_.erase(n);
  if (sig == SIGKILL) {
    ::waitpid(i->second, nullptr, 0);
    running_.erase(i);
    stopped_.erase(n);
  }
  return {};
}

std::vector<std::string> node_processes::unexpected_exits() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> result;
  for (auto i = running_.begin(); i != running_.end();) {
    int status = 0;
    if (::waitpid(i->second, &status, WNOHANG) == i->second) {
      result.push_back("node " + i->first + " (pid "
                       + std::to_string(i->second) + ") " + describe(status)
                       + "; see " + log_path(i->first));
      i = running_.erase(i);
    } else {
      ++i;
    }
  }
  return result;
}

int node_processes::wait_exit(const node_id& n, int timeout_ms) {
  auto deadline = steady::now() + std::chrono::milliseconds{timeout_ms};
  for (;;) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto i = running_.find(n);
      if (i == running_.end())
        return -1;
      int status = 0;
      if (::waitpid(i->second, &status, WNOHANG) == i->second) {
        running_.erase(i);
        return status;
      }
    }
    if (steady::now() >= deadline)
      return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

std::vector<std::string> node_processes::reap_all(std::ostream& log) {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> problems;
  for (auto& [n, pid] : running_) {
    ::kill(pid, SIGCONT);
    ::kill(pid, SIGTERM);
  }
  auto deadline = steady::now() + std::chrono::seconds{8};
  while (!running_.empty()) {
    for (auto i = running_.begin(); i != running_.end();) {
      int status = 0;
      if (::waitpid(i->second, &status, WNOHANG) == i->second) {
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
          problems.push_back("node " + i->first + " " + describe(status)
                             + " at shutdown; see " + log_path(i->first));
          log << "keel: " << problems.back() << "\n";
        }
        i = running_.erase(i);
      } else {
        ++i;
      }
    }
    if (running_.empty())
      break;
    if (steady::now() >= deadline) {
      for (auto& [n, pid] : running_) {
        problems.push_back("node " + n
                           + " did not stop within 8 s of SIGTERM: killed");
        log << "keel: " << problems.back() << "\n";
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
      running_.clear();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  stopped_.clear();
  return problems;
}

std::string node_processes::describe(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended (status " + std::to_string(status) + ")";
}

} // namespace keel::scenarios
