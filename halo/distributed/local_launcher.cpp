// local_launcher.h: fork/exec of the workers, the poll loop that relays their output, forwards
// signals and reaps them, and the first-failure shutdown.
#include "halo/distributed/local_launcher.h"

#include "common/error.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>

extern char** environ;

namespace halo::distributed {

namespace {

using Clock = std::chrono::steady_clock;

int g_signal_pipe[2] = {-1, -1};

extern "C" void halo_launch_relay_signal(int sig) {
  const int saved = errno;
  const unsigned char c = static_cast<unsigned char>(sig);
  ssize_t ignored = write(g_signal_pipe[1], &c, 1);
  (void)ignored;
  errno = saved;
}

struct Stream {
  int fd = -1;
  bool is_stderr = false;
  std::string partial;
};

struct Worker {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  int status = 0;
  bool stopped_by_launch = false;  // got SIGTERM/SIGKILL from us after another rank failed
  Stream out, err;
  std::deque<std::string> last_err_lines;
};

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return std::string("SIG") + (abbrev ? abbrev : "?") + " (" + std::to_string(sig) + ")";
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by " + signal_name(WTERMSIG(status));
  return "status " + std::to_string(status);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void write_all(FILE* f, const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), f);
  std::fflush(f);
}

void emit_line(Worker& w, Stream& s, const std::string& line) {
  write_all(s.is_stderr ? stderr : stdout, "[rank " + std::to_string(w.rank) + "] " + line + "\n");
  if (s.is_stderr) {
    w.last_err_lines.push_back(line);
    if (w.last_err_lines.size() > 20) w.last_err_lines.pop_front();
  }
}

// Reads what is available; returns false at end of file (the stream is then closed).
bool pump(Worker& w, Stream& s) {
  char buf[65536];
  const ssize_t n = read(s.fd, buf, sizeof(buf));
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) {
    if (!s.partial.empty()) emit_line(w, s, s.partial);
    s.partial.clear();
    close(s.fd);
    s.fd = -1;
    return false;
  }
  s.partial.append(buf, static_cast<size_t>(n));
  size_t start = 0, nl;
  while ((nl = s.partial.find('\n', start)) != std::string::npos) {
    emit_line(w, s, s.partial.substr(start, nl - start));
    start = nl + 1;
  }
  s.partial.erase(0, start);
  return true;
}

// The worker's own explanation: its last stderr line starting with "error", else its last one.
std::string failure_message(const Worker& w) {
  for (auto it = w.last_err_lines.rbegin(); it != w.last_err_lines.rend(); ++it) {
    if (it->rfind("error", 0) == 0) return *it;
  }
  if (!w.last_err_lines.empty()) return w.last_err_lines.back();
  return "(it wrote nothing on stderr)";
}

std::vector<std::string> worker_environment(const LaunchPlan& plan, int local_rank) {
  const std::map<std::string, std::string> ours{
      {"RANK", std::to_string(plan.node_rank * plan.nproc_per_node + local_rank)},
      {"WORLD_SIZE", std::to_string(plan.nnodes * plan.nproc_per_node)},
      {"LOCAL_RANK", std::to_string(local_rank)},
      {"LOCAL_WORLD_SIZE", std::to_string(plan.nproc_per_node)},
      {"GROUP_RANK", std::to_string(plan.node_rank)},
      {"MASTER_ADDR", plan.master_addr},
      {"MASTER_PORT", std::to_string(plan.master_port)},
  };
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    if (ours.count(entry.substr(0, entry.find('='))) == 0) env.push_back(entry);
  }
  for (const auto& [k, v] : ours) env.push_back(k + "=" + v);
  return env;
}

void spawn(const LaunchPlan& plan, int local_rank, Worker& w) {
  int out[2], err[2];
  HALO_CHECK(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0,
             "launch: cannot create pipes: ", std::strerror(errno));
  std::vector<std::string> env = worker_environment(plan, local_rank);
  std::vector<std::string> args{plan.executable};
  args.insert(args.end(), plan.arguments.begin(), plan.arguments.end());
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  HALO_CHECK(pid >= 0, "launch: fork failed: ", std::strerror(errno));
  if (pid == 0) {
    // Own process group: a terminal's Ctrl-C reaches only the launcher, which forwards it
    // once. Die with the launcher, so no worker outlives a SIGKILLed launcher.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    const std::string msg =
        "error: launch: cannot execute " + plan.executable + ": " + std::strerror(errno) + "\n";
    ssize_t ignored = write(STDERR_FILENO, msg.data(), msg.size());
    (void)ignored;
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  w.pid = pid;
  w.running = true;
  w.out = Stream{out[0], false, {}};
  w.err = Stream{err[0], true, {}};
}

void signal_running(std::vector<Worker>& workers, int sig) {
  for (auto& w : workers) {
    if (w.running) kill(w.pid, sig);
  }
}

// SIGINT, SIGTERM and SIGHUP of the launcher reach the supervision loop through a pipe (a signal
// handler may only write); SIGPIPE is ignored (a closed terminal must not kill the launcher).
void install_signal_relay() {
  HALO_CHECK(pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) == 0,
             "launch: cannot create a pipe: ", std::strerror(errno));
  struct sigaction sa {};
  sa.sa_handler = halo_launch_relay_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Starts the plan's workers of this node and says so on stderr.
std::vector<Worker> start_workers(const LaunchPlan& plan) {
  std::vector<Worker> workers(static_cast<size_t>(plan.nproc_per_node));
  for (int local = 0; local < plan.nproc_per_node; ++local) {
    workers[local].rank = plan.node_rank * plan.nproc_per_node + local;
    spawn(plan, local, workers[local]);
  }
  write_all(stderr, "launch: started " + std::to_string(plan.nproc_per_node) + " workers (ranks " +
                        std::to_string(workers.front().rank) + ".." +
                        std::to_string(workers.back().rank) + " of " +
                        std::to_string(plan.nnodes * plan.nproc_per_node) + "), rendezvous " +
                        plan.master_addr + ":" + std::to_string(plan.master_port) + "\n");
  return workers;
}

// What the supervision loop carries from one round to the next.
struct Supervision {
  int received_signal = 0;                         // the last signal the launcher got and forwarded
  std::optional<size_t> first_failure;             // index of the worker that failed first
  std::optional<Clock::time_point> kill_deadline;  // SIGKILL for the others after this
  bool killed = false;                             // SIGKILL sent
  std::optional<Clock::time_point> drain_deadline;  // output pipes are read until then
};

bool any_open(const std::vector<Worker>& workers) {
  for (const auto& w : workers) {
    if (w.out.fd >= 0 || w.err.fd >= 0) return true;
  }
  return false;
}

bool any_running(const std::vector<Worker>& workers) {
  for (const auto& w : workers) {
    if (w.running) return true;
  }
  return false;
}

// One poll round (at most 100 ms): forwards the signals the launcher received to the running
// workers, and relays the workers' output lines with their rank.
void relay_signals_and_output(std::vector<Worker>& workers, Supervision& s) {
  std::vector<pollfd> fds{{g_signal_pipe[0], POLLIN, 0}};
  std::vector<std::pair<size_t, Stream*>> owners;
  for (size_t i = 0; i < workers.size(); ++i) {
    for (Stream* st : {&workers[i].out, &workers[i].err}) {
      if (st->fd >= 0) {
        fds.push_back({st->fd, POLLIN, 0});
        owners.emplace_back(i, st);
      }
    }
  }
  poll(fds.data(), fds.size(), 100);

  if (fds[0].revents & POLLIN) {
    unsigned char c;
    while (read(g_signal_pipe[0], &c, 1) == 1) {
      s.received_signal = c;
      write_all(stderr, "launch: received " + signal_name(c) + "; forwarding it to the workers\n");
      signal_running(workers, c);
    }
  }
  for (size_t k = 0; k < owners.size(); ++k) {
    if (fds[k + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
      pump(workers[owners[k].first], *owners[k].second);
    }
  }
}

// Reaps the workers that exited. The first one that failed is remembered, and the others get
// SIGTERM (SIGKILL after plan.kill_grace_s, kill_after_grace); the ones stopped so are named.
void reap_exited(std::vector<Worker>& workers, const LaunchPlan& plan, Supervision& s) {
  for (size_t i = 0; i < workers.size(); ++i) {
    Worker& w = workers[i];
    if (!w.running) continue;
    int status = 0;
    if (waitpid(w.pid, &status, WNOHANG) != w.pid) continue;
    w.running = false;
    w.status = status;
    const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (w.stopped_by_launch) {
      write_all(stderr, "launch: rank " + std::to_string(w.rank) + " (pid " +
                            std::to_string(w.pid) + ") stopped after rank " +
                            std::to_string(workers[*s.first_failure].rank) + " failed (" +
                            describe_status(status) + ")\n");
    } else if (failed && !s.first_failure) {
      s.first_failure = i;
      write_all(stderr, "launch: rank " + std::to_string(w.rank) + " (pid " +
                            std::to_string(w.pid) + ") failed (" + describe_status(status) +
                            "); stopping the other workers\n");
      for (auto& other : workers) {
        if (other.running) {
          other.stopped_by_launch = true;
          kill(other.pid, SIGTERM);
        }
      }
      s.kill_deadline =
          Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(plan.kill_grace_s * 1000));
    }
  }
}

// SIGKILL for the workers still running plan.kill_grace_s after the first failure's SIGTERM.
void kill_after_grace(std::vector<Worker>& workers, const LaunchPlan& plan, Supervision& s) {
  if (s.kill_deadline && !s.killed && Clock::now() >= *s.kill_deadline && any_running(workers)) {
    write_all(stderr, "launch: workers still running " + std::to_string(plan.kill_grace_s) +
                          " s after SIGTERM; sending SIGKILL\n");
    signal_running(workers, SIGKILL);
    s.killed = true;
  }
}

// Closes what is left of the output pipes and gives the launcher's exit code (local_launcher.h).
int launch_result(std::vector<Worker>& workers, const Supervision& s) {
  for (auto& w : workers) {
    for (Stream* st : {&w.out, &w.err}) {
      if (st->fd >= 0) close(st->fd);
    }
  }
  if (s.first_failure) {
    const Worker& w = workers[*s.first_failure];
    write_all(stderr, "error: launch: rank " + std::to_string(w.rank) + " (pid " +
                          std::to_string(w.pid) + ") failed first with " +
                          describe_status(w.status) + ": " + failure_message(w) + "\n");
    return exit_code_of(w.status);
  }
  if (s.received_signal != 0) return 128 + s.received_signal;
  return 0;
}

}  // namespace

void LaunchPlan::validate() const {
  HALO_CHECK(!executable.empty(), "launch: no worker executable");
  HALO_CHECK(!arguments.empty(),
             "launch: no subcommand to run. HINT: halo-distill launch "
             "--nproc-per-node N -- SUBCOMMAND [OPTIONS...]");
  HALO_CHECK(nproc_per_node >= 1 && nproc_per_node <= 1024, "launch: --nproc-per-node is ",
             nproc_per_node, "; expected 1..1024 (usually the number of GPUs of this node)");
  HALO_CHECK(nnodes >= 1, "launch: --nnodes is ", nnodes, "; expected at least 1");
  HALO_CHECK(node_rank >= 0 && node_rank < nnodes, "launch: --node-rank is ", node_rank,
             "; expected 0..", nnodes - 1, " (--nnodes=", nnodes, ")");
  HALO_CHECK(!master_addr.empty(), "launch: --master-addr is required with --nnodes=", nnodes,
             " (the address of the node with --node-rank 0, reachable from every node)");
  HALO_CHECK(master_port >= 1 && master_port <= 65535, "launch: --master-port is ", master_port,
             "; expected 1..65535");
  HALO_CHECK(kill_grace_s >= 0, "launch: --kill-grace-s is ", kill_grace_s, "; expected >= 0");
}

int find_free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  HALO_CHECK(fd >= 0, "launch: socket() failed: ", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  HALO_CHECK(ok, "launch: cannot find a free port on 127.0.0.1: ", std::strerror(errno),
             ". HINT: pass --master-port");
  return ntohs(addr.sin_port);
}

int run_local_workers(const LaunchPlan& plan) {
  plan.validate();
  install_signal_relay();
  std::vector<Worker> workers = start_workers(plan);
  Supervision s;
  while (any_running(workers) ||
         (any_open(workers) && (!s.drain_deadline || Clock::now() < *s.drain_deadline))) {
    relay_signals_and_output(workers, s);
    reap_exited(workers, plan, s);
    kill_after_grace(workers, plan, s);
    // Output pipes can outlive a worker (a grandchild holding them): drain for at most 2 s.
    if (!any_running(workers) && !s.drain_deadline) {
      s.drain_deadline = Clock::now() + std::chrono::seconds(2);
    }
  }
  return launch_result(workers, s);
}

}  // namespace halo::distributed
