// quarrel keys create NAME | list | revoke NAME --file F: the API keys `quarrel serve --api-keys F`
// accepts. The file keeps each key's name, creation time, salt and salted SHA-256 hash; a new
// key is printed once (on stdout) and stored nowhere. A running server re-reads the file when
// it changes, so creating and revoking keys needs no restart.
#include <cstdio>
#include <memory>
#include <string>

#include "apps/quarrel/command.h"
#include "core/error.h"
#include "server/api_keys.h"

namespace quarrel::cli {
namespace {

struct KeysArgs {
  std::string file, name;
};

int keys(CLI::App& sub, const KeysArgs& a) {
  if (a.file.empty()) fail(ErrorCode::kInvalidArgument, "keys: --file (or QUARREL_API_KEYS) is required");
  server::ApiKeyFile f = server::ApiKeyFile::load(a.file);
  if (sub.got_subcommand("create")) {
    const std::string key = f.create(a.name);
    f.save(a.file);
    std::printf("%s\n", key.c_str());
    std::fprintf(stderr, "created key '%s' in %s (shown once: store it now)\n", a.name.c_str(), a.file.c_str());
  } else if (sub.got_subcommand("revoke")) {
    if (!f.revoke(a.name)) fail(ErrorCode::kNotFound, "{}: no key named '{}'", a.file, a.name);
    f.save(a.file);
    std::fprintf(stderr, "revoked key '%s' in %s\n", a.name.c_str(), a.file.c_str());
  } else {
    std::printf("%-32s %s\n", "NAME", "CREATED");
    for (const auto& e : f.entries()) std::printf("%-32s %s\n", e.name.c_str(), e.created.c_str());
  }
  return 0;
}

const RegisterCommand kKeys{Command{
    "keys", "Manage API keys for quarrel serve --api-keys (create NAME, list, revoke NAME)", [](CLI::App& sub) {
      auto a = std::make_shared<KeysArgs>();
      sub.add_option("--file", a->file, "The key file (JSON; created when missing)")->envname("QUARREL_API_KEYS");
      auto* create = sub.add_subcommand("create", "Create a key NAME and print it (once)");
      create->add_option("NAME", a->name, "The key's name (letters, digits, . _ -)")->required();
      sub.add_subcommand("list", "List the keys' names and creation times");
      auto* revoke = sub.add_subcommand("revoke", "Revoke the key NAME");
      revoke->add_option("NAME", a->name, "The key's name")->required();
      sub.require_subcommand(1);
      // --file may come after the subcommand too.
      for (CLI::App* s : {create, sub.get_subcommand("list"), revoke}) s->fallthrough();
      return [a, &sub] { return keys(sub, *a); };
    }}};

}  // namespace
}  // namespace quarrel::cli
