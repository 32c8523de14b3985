// Text for HTML and inline SVG: the five characters that could end an
// element, an attribute or start an entity are written as entities, and
// control characters (which HTML forbids, and which a hand-edited result
// file might carry as \u0000) as U+FFFD. Used for every string a result file
// supplies, so a parameter value can never become markup.
//
//   out += "<td>";
//   AppendHtmlEscaped(out, side_name);   // <td>nginx &amp; friends
#ifndef BENCH_REPORT_HTML_ESCAPE_H_
#define BENCH_REPORT_HTML_ESCAPE_H_

#include <string>
#include <string_view>

namespace ingest::bench {

void AppendHtmlEscaped(std::string& out, std::string_view text);
std::string HtmlEscaped(std::string_view text);

}  // namespace ingest::bench

#endif  // BENCH_REPORT_HTML_ESCAPE_H_
