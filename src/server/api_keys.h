#pragma once
// API keys for `quarrel serve --api-keys FILE`, managed by `quarrel keys create|list|revoke`.
//
// The file is JSON: {"keys": [{"name", "created" (ISO 8601 UTC), "salt" (hex), "hash" (hex)}]}
// where hash = SHA-256(salt bytes || key). The key itself is shown once, at creation, and is
// stored nowhere. Checking a key hashes it with each entry's salt and compares in constant time.
//
//   ApiKeyFile f = ApiKeyFile::load("keys.json");     // a missing file is an empty set
//   std::string key = f.create("ci");                 // "qk-<48 hex digits>"
//   f.save("keys.json");                              // atomic, mode 0600
//
//   ApiKeyStore store("keys.json");                   // the server's view: re-read on change
//   std::optional<std::string> who = store.check(key);  // the key's name, or nothing
#include <sys/stat.h>

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quarrel::server {

struct ApiKeyEntry {
  std::string name;
  std::string created;  // "2026-01-02T03:04:05Z"
  std::string salt;     // hex, 16 bytes
  std::string hash;     // hex SHA-256(salt || key)
};

class ApiKeyFile {
 public:
  // Missing file: an empty set. Unreadable or malformed: Error naming the file.
  static ApiKeyFile load(const std::filesystem::path& path);
  static ApiKeyFile parse(const std::string& text, const std::string& where);
  std::string to_json() const;
  // Writes to a temporary file and renames it over `path` (mode 0600).
  void save(const std::filesystem::path& path) const;

  // A new key for `name` (letters, digits, '.', '_', '-'; 1..64 chars; unused): returns the key.
  std::string create(const std::string& name);
  // Removes the key named `name`; false when there is none.
  bool revoke(const std::string& name);
  // The name of the entry `key` belongs to.
  std::optional<std::string> match(std::string_view key) const;
  const std::vector<ApiKeyEntry>& entries() const { return entries_; }

 private:
  std::vector<ApiKeyEntry> entries_;
};

// Hex SHA-256 of (the bytes of hex `salt_hex`) followed by `key`.
std::string hash_api_key(const std::string& salt_hex, std::string_view key);
// n random bytes (OpenSSL's CSPRNG) as hex.
std::string random_hex(size_t n_bytes);
// The KEY of "Bearer KEY" (scheme case-insensitive), or nothing.
std::optional<std::string> bearer_token(std::string_view authorization);

// The server's key set: loaded at start (a missing or malformed file is an error then), re-read
// when the file changes (mtime, size or inode), so keys rotate without a restart. A file that
// turns malformed or disappears later keeps the last good set (and says so once in the log).
// Thread-safe.
class ApiKeyStore {
 public:
  explicit ApiKeyStore(std::filesystem::path path);
  std::optional<std::string> check(std::string_view key);
  size_t size();

 private:
  void reload_if_changed();
  std::filesystem::path path_;
  std::mutex mu_;
  ApiKeyFile keys_;
  struct stat last_ {};
  bool warned_ = false;
};

}  // namespace quarrel::server
