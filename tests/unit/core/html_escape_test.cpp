// html_escape: the five characters Jinja's escape filter replaces, everything else (UTF-8
// included) unchanged.
#include <gtest/gtest.h>

#include "core/html_escape.h"

namespace quarrel {
namespace {

TEST(HtmlEscape, ReplacesTheFiveSpecialCharacters) {
  EXPECT_EQ(html_escape(R"(<a href="x">Tom & 'Jerry'</a>)"),
            "&lt;a href=&#34;x&#34;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
}

TEST(HtmlEscape, LeavesOtherTextAlone) {
  EXPECT_EQ(html_escape(""), "");
  EXPECT_EQ(html_escape("plain text, café, 日本語 \n\t"), "plain text, café, 日本語 \n\t");
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");  // not idempotent: escaping twice escapes twice
}

}  // namespace
}  // namespace quarrel
