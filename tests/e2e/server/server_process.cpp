#include "e2e/server/server_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "common/test_data.h"

namespace quarrel::test {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind failed");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

ServerProcess::ServerProcess(const std::string& args, const std::string& ready_curl_args) {
  dir_ = temp_dir("qserve");
  port_ = free_port();
  url_ = "http://127.0.0.1:" + std::to_string(port_);
  const std::string cmd = "exec " + quarrel_binary().string() + " serve " + args + " --port " + std::to_string(port_) +
                          " >" + (dir_ / "stdout").string() + " 2>" + (dir_ / "stderr").string();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("quarrel serve exited early: " + log());
    }
    if (curl("GET", url_ + "/readyz", "", ready_curl_args).status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("quarrel serve did not become ready: " + log());
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

int ServerProcess::terminate(int timeout_s) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

std::string ServerProcess::log() const { return read_file(dir_ / "stderr"); }

HttpResult curl(const std::string& method, const std::string& url, const std::string& body, const std::string& extra) {
  const auto dir = temp_dir("qcurl");
  std::string cmd = "curl -s -S -X " + method + " -D " + (dir / "headers").string() + " -o " +
                    (dir / "body").string() + " -w '%{http_code}' --max-time 120 " + extra;
  if (!body.empty()) {
    std::ofstream(dir / "req", std::ios::binary) << body;
    cmd += " -H 'Content-Type: application/json' --data-binary @" + (dir / "req").string();
  }
  cmd += " '" + url + "'";
  std::string out;
  run_command(cmd + " 2>/dev/null", &out);
  HttpResult r;
  try {
    r.status = std::stoi(out);
  } catch (const std::exception&) {
    r.status = 0;
  }
  std::error_code ec;
  if (std::filesystem::exists(dir / "body")) r.body = read_file(dir / "body");
  if (std::filesystem::exists(dir / "headers")) r.headers = read_file(dir / "headers");
  std::filesystem::remove_all(dir, ec);
  return r;
}

}  // namespace quarrel::test
