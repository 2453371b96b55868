#pragma once
// A real `quarrel serve` for e2e tests: started on a free port with the given arguments, waited
// for (GET /readyz answers 200), stopped with SIGTERM; plus curl helpers.
#include <sys/types.h>

#include <filesystem>
#include <string>

namespace quarrel::test {

class ServerProcess {
 public:
  // `args`: what follows `quarrel serve` (shell text). Throws if /readyz is not 200 in 60 s.
  // `ready_curl_args`: extra curl arguments for that check (an Authorization header).
  explicit ServerProcess(const std::string& args, const std::string& ready_curl_args = "");
  ~ServerProcess();  // SIGKILL if still running
  const std::string& url() const { return url_; }
  int port() const { return port_; }
  // Sends SIGTERM and waits (at most timeout_s); returns the exit status (-1: did not exit).
  int terminate(int timeout_s = 30);
  std::string log() const;  // stderr so far

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string url_;
  std::filesystem::path dir_;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::string headers;
};

// curl -X METHOD URL with an optional body (sent from a file) and extra curl arguments.
HttpResult curl(const std::string& method, const std::string& url, const std::string& body = "",
                const std::string& extra = "");

int free_port();

}  // namespace quarrel::test
