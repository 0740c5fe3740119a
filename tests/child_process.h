// Child processes of the real halo-distill binary for the multi-process tests: started with extra
// environment variables (a rank's torchrun variables) or none (a `launch` of several workers),
// their stdout and stderr in one log file, signalled and waited for with a hang guard. The
// guards only keep a failing test from blocking CI; they are not measurements.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace halo::test {

class Child {
 public:
  // Starts `halo-distill ARGS...` (or `PROGRAM ARGS...` when `program` is given) with `env`
  // added to (or replacing in) this process's environment; its output goes to `log`.
  Child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
        std::string log, const std::string& program = {});
  // Kills (SIGKILL) and reaps the child if it is still running.
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Exit status (as waitpid reports it) once the child ends; nullopt if it is still running
  // after `guard`.
  std::optional<int> wait(std::chrono::seconds guard);
  std::string log() const;

 private:
  std::string log_;
  pid_t pid_ = -1;
  bool running_ = true;
};

// The whole file (empty if it cannot be read).
std::string read_file(const std::string& path);
// True once `path` can be opened, false after `guard`.
bool wait_for_file(const std::string& path, std::chrono::seconds guard);
// The torchrun variables of rank `rank` of `world` on 127.0.0.1:port.
std::map<std::string, std::string> rank_env(int rank, int world, int port);
// A wait status as a shell exit code: the exit status, or 128 + the signal that ended it.
int exit_code(int status);

}  // namespace halo::test
