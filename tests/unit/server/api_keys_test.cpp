// API keys: salted SHA-256 against known vectors, create/revoke/match, the file round trip and
// its checks, bearer parsing, and the store re-reading a rotated file.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/test_data.h"
#include "core/error.h"
#include "server/api_keys.h"

namespace quarrel::server {
namespace {

// FIPS 180-2 test vector: SHA-256("abc").
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(ApiKeys, HashIsSha256OfSaltBytesThenKey) {
  EXPECT_EQ(hash_api_key("", "abc"), kAbc);
  EXPECT_EQ(hash_api_key("616263", ""), kAbc);   // salt "abc" as hex
  EXPECT_EQ(hash_api_key("61", "bc"), kAbc);
  EXPECT_EQ(hash_api_key("", ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ApiKeys, CreateMatchRevoke) {
  ApiKeyFile f;
  const std::string a = f.create("alice");
  const std::string b = f.create("bob");
  EXPECT_TRUE(a.starts_with("qk-"));
  EXPECT_EQ(a.size(), 3u + 48u);
  EXPECT_NE(a, b);
  EXPECT_EQ(f.match(a), "alice");
  EXPECT_EQ(f.match(b), "bob");
  EXPECT_EQ(f.match("qk-nope"), std::nullopt);
  EXPECT_EQ(f.match(a + "x"), std::nullopt);
  // The key itself is not in the file.
  EXPECT_EQ(f.to_json().find(a), std::string::npos);
  EXPECT_NE(f.entries()[0].salt, f.entries()[1].salt);
  EXPECT_EQ(f.entries()[0].hash, hash_api_key(f.entries()[0].salt, a));
  EXPECT_EQ(f.entries()[0].created.size(), 20u);  // 2026-01-02T03:04:05Z
  EXPECT_THROW(f.create("alice"), Error);         // names are unique
  EXPECT_THROW(f.create("has space"), Error);
  EXPECT_THROW(f.create(""), Error);
  EXPECT_TRUE(f.revoke("alice"));
  EXPECT_FALSE(f.revoke("alice"));
  EXPECT_EQ(f.match(a), std::nullopt);
  EXPECT_EQ(f.match(b), "bob");
}

TEST(ApiKeys, FileRoundTripAndErrors) {
  const auto dir = test::temp_dir("keys");
  const auto path = dir / "keys.json";
  EXPECT_TRUE(ApiKeyFile::load(path).entries().empty());  // missing: empty
  ApiKeyFile f;
  const std::string k = f.create("ci");
  f.save(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const ApiKeyFile g = ApiKeyFile::load(path);
  ASSERT_EQ(g.entries().size(), 1u);
  EXPECT_EQ(g.match(k), "ci");
  EXPECT_THROW(ApiKeyFile::parse("{", "x.json"), Error);
  EXPECT_THROW(ApiKeyFile::parse("[]", "x.json"), Error);
  EXPECT_THROW(ApiKeyFile::parse(R"({"keys": [{"name": "a"}]})", "x.json"), Error);
  EXPECT_THROW(ApiKeyFile::parse(R"({"keys": [{"name": "a", "salt": "zz", "hash": "00"}]})", "x.json"), Error);
  try {
    ApiKeyFile::parse("{", "x.json");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.json"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST(ApiKeys, BearerToken) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer   abc  "), "abc");
  EXPECT_EQ(bearer_token("Basic abc"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer "), std::nullopt);
  EXPECT_EQ(bearer_token("Bearerabc"), std::nullopt);
  EXPECT_EQ(bearer_token(""), std::nullopt);
}

TEST(ApiKeyStore, RereadsTheFileWhenItChanges) {
  const auto dir = test::temp_dir("keystore");
  const auto path = dir / "keys.json";
  EXPECT_THROW(ApiKeyStore{path}, Error);  // the server needs the file to exist
  ApiKeyFile f;
  const std::string old_key = f.create("old");
  f.save(path);
  ApiKeyStore store(path);
  EXPECT_EQ(store.check(old_key), "old");
  // Rotate: a new key, the old one revoked; the store sees it without being rebuilt.
  const std::string new_key = f.create("new");
  f.revoke("old");
  f.save(path);
  EXPECT_EQ(store.check(new_key), "new");
  EXPECT_EQ(store.check(old_key), std::nullopt);
  // A broken file keeps the last good keys.
  std::ofstream(path) << "{ broken";
  EXPECT_EQ(store.check(new_key), "new");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace quarrel::server
