#include "server/api_keys.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cctype>
#include <ctime>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "server/log.h"

namespace quarrel::server {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string to_hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

std::vector<unsigned char> from_hex(const std::string& hex) {
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<unsigned char> out;
  if (hex.size() % 2 != 0) return {};
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = val(hex[i]), lo = val(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return out;
}

bool is_hex(const std::string& s, size_t n_chars) { return s.size() == n_chars && from_hex(s).size() * 2 == n_chars; }

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string hash_api_key(const std::string& salt_hex, std::string_view key) {
  std::vector<unsigned char> data = from_hex(salt_hex);
  data.insert(data.end(), key.begin(), key.end());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    fail(ErrorCode::kInternal, "api keys: SHA-256 failed");
  OPENSSL_cleanse(data.data(), data.size());
  return to_hex(md, len);
}

std::string random_hex(size_t n_bytes) {
  std::vector<unsigned char> b(n_bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) fail(ErrorCode::kInternal, "api keys: no random bytes");
  return to_hex(b.data(), b.size());
}

std::optional<std::string> bearer_token(std::string_view h) {
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  if (h.size() < 7) return std::nullopt;
  std::string scheme(h.substr(0, 6));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer" || h[6] != ' ') return std::nullopt;
  h.remove_prefix(7);
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  if (h.empty()) return std::nullopt;
  return std::string(h);
}

ApiKeyFile ApiKeyFile::parse(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorCode::kInvalidArgument, "{}: not valid JSON: {}", where, e.what());
  }
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array())
    fail(ErrorCode::kInvalidArgument, "{}: expected an object with a \"keys\" array", where);
  ApiKeyFile f;
  for (const json& k : j["keys"]) {
    ApiKeyEntry e;
    if (!k.is_object() || !k.contains("name") || !k["name"].is_string() || !k.contains("salt") ||
        !k["salt"].is_string() || !k.contains("hash") || !k["hash"].is_string())
      fail(ErrorCode::kInvalidArgument, "{}: each key needs string fields name, salt and hash", where);
    e.name = k["name"];
    e.salt = k["salt"];
    e.hash = k["hash"];
    e.created = k.value("created", "");
    if (!is_hex(e.salt, 32) || !is_hex(e.hash, 64))
      fail(ErrorCode::kInvalidArgument, "{}: key '{}': salt must be 32 and hash 64 hex digits", where, e.name);
    f.entries_.push_back(std::move(e));
  }
  return f;
}

ApiKeyFile ApiKeyFile::load(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::kIo, "{}: cannot read the key file", path.string());
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (16u << 20)) {
      ::close(fd);
      fail(ErrorCode::kInvalidArgument, "{}: the key file is larger than 16 MiB", path.string());
    }
  }
  ::close(fd);
  return parse(text, path.string());
}

std::string ApiKeyFile::to_json() const {
  json keys = json::array();
  for (const auto& e : entries_) keys.push_back({{"name", e.name}, {"created", e.created}, {"salt", e.salt}, {"hash", e.hash}});
  return json{{"keys", keys}}.dump(2) + "\n";
}

void ApiKeyFile::save(const fs::path& path) const {
  const fs::path tmp = path.string() + fmt::format(".tmp{}", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(ErrorCode::kIo, "{}: cannot write the key file", path.string());
  const std::string text = to_json();
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    fail(ErrorCode::kIo, "{}: cannot write the key file", path.string());
  }
}

std::string ApiKeyFile::create(const std::string& name) {
  if (!valid_name(name))
    fail(ErrorCode::kInvalidArgument, "key name '{}': use 1 to 64 letters, digits, '.', '_' or '-'", name);
  for (const auto& e : entries_)
    if (e.name == name) fail(ErrorCode::kInvalidArgument, "key name '{}' is taken (revoke it first)", name);
  const std::string key = "qk-" + random_hex(24);
  ApiKeyEntry e{name, now_utc(), random_hex(16), ""};
  e.hash = hash_api_key(e.salt, key);
  entries_.push_back(std::move(e));
  return key;
}

bool ApiKeyFile::revoke(const std::string& name) {
  return std::erase_if(entries_, [&](const ApiKeyEntry& e) { return e.name == name; }) > 0;
}

std::optional<std::string> ApiKeyFile::match(std::string_view key) const {
  std::optional<std::string> found;
  for (const auto& e : entries_) {
    const std::string h = hash_api_key(e.salt, key);
    if (CRYPTO_memcmp(h.data(), e.hash.data(), h.size()) == 0 && !found) found = e.name;
  }
  return found;
}

ApiKeyStore::ApiKeyStore(fs::path path) : path_(std::move(path)) {
  if (::stat(path_.c_str(), &last_) != 0) fail(ErrorCode::kNotFound, "{}: no such key file (quarrel keys create NAME --file {})", path_.string(), path_.string());
  keys_ = ApiKeyFile::load(path_);
}

void ApiKeyStore::reload_if_changed() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    if (!warned_) log_line("WARN", "", "api key file is gone: keeping the last keys", {{"file", path_.string()}});
    warned_ = true;
    return;
  }
  if (st.st_ino == last_.st_ino && st.st_size == last_.st_size && st.st_mtim.tv_sec == last_.st_mtim.tv_sec &&
      st.st_mtim.tv_nsec == last_.st_mtim.tv_nsec)
    return;
  try {
    keys_ = ApiKeyFile::load(path_);
    last_ = st;
    warned_ = false;
    log_line("INFO", "", "api keys reloaded", {{"file", path_.string()}, {"keys", keys_.entries().size()}});
  } catch (const std::exception& e) {
    if (!warned_) log_line("WARN", "", "api key file unreadable: keeping the last keys", {{"error", e.what()}});
    warned_ = true;
  }
}

std::optional<std::string> ApiKeyStore::check(std::string_view key) {
  std::lock_guard lock(mu_);
  reload_if_changed();
  return keys_.match(key);
}

size_t ApiKeyStore::size() {
  std::lock_guard lock(mu_);
  reload_if_changed();
  return keys_.entries().size();
}

}  // namespace quarrel::server
