#pragma once
// HTML escaping as Jinja's `escape` filter does it (& < > " '), for the chat templates' filter
// and the server's /docs page.
#include <string>
#include <string_view>

namespace quarrel {

std::string html_escape(std::string_view s);

}  // namespace quarrel
