// Error reporting shared by every area: HaloError (an exception whose message says what was
// wrong, where, and a hint to fix it) and the HALO_CHECK macro that throws it with file:line.
// Bad user input (files, configs, flags) is always reported through these, never by abort.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace halo {

// An error the user can act on: the message names the file/key/tensor and what was expected.
class HaloError : public std::runtime_error {
 public:
  explicit HaloError(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
inline void append_all(std::ostringstream&) {}
template <typename T, typename... Rest>
void append_all(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append_all(os, rest...);
}
}  // namespace detail

// Concatenates the arguments with operator<< into one string.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::append_all(os, args...);
  return os.str();
}

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace halo

// HALO_CHECK(cond, parts...): throws halo::HaloError with the parts joined and file:line when
// cond is false. Messages should name the offending file, key or tensor and the expected value.
#define HALO_CHECK(cond, ...)                                                     \
  do {                                                                            \
    if (!(cond)) ::halo::throw_error(__FILE__, __LINE__, ::halo::str_cat(__VA_ARGS__)); \
  } while (0)

#define HALO_FAIL(...) ::halo::throw_error(__FILE__, __LINE__, ::halo::str_cat(__VA_ARGS__))
