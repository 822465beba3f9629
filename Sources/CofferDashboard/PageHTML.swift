import CofferFormats
package import CofferStore

/// The dashboard's HTML: one stylesheet from the server itself, no script, no
/// font or image from anywhere; charts are inline SVG.
package enum PageHTML {
    /// Served at /static/style.css (and inlined into a static report).
    package static let stylesheet = """
        :root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --accent: #0072B2; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #f6f7f9; }
        header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
        header strong { font-size: 17px; }
        nav a { margin-right: 12px; color: var(--accent); text-decoration: none; }
        nav a[aria-current] { font-weight: 700; color: var(--ink); border-bottom: 2px solid var(--accent); }
        .who { margin-left: auto; color: var(--muted); }
        .who form { display: inline; }
        main { padding: 16px 20px 40px; max-width: 1400px; }
        h1 { font-size: 22px; margin: 4px 0 12px; }
        h2 { font-size: 17px; margin: 0 0 8px; }
        .purposes { margin: 0 0 12px; color: var(--muted); }
        .purposes a { margin-right: 8px; color: var(--accent); }
        .figures { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 16px; }
        .figure { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 150px; }
        .figure b { display: block; font-size: 24px; }
        .figure span { color: var(--muted); font-size: 13px; }
        section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px; margin-bottom: 16px; }
        .pair { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; align-items: start; }
        @media (max-width: 1000px) { .pair { grid-template-columns: 1fr; } }
        svg { width: 100%; height: auto; font-size: 11px; fill: var(--ink); }
        svg .t { font-size: 13px; font-weight: 600; }
        svg .axis { stroke: #888; stroke-width: 1; }
        svg .grid { stroke: #e6e8ee; stroke-width: 1; }
        .tablewrap { max-height: 340px; overflow: auto; border: 1px solid var(--line); }
        table { border-collapse: collapse; width: 100%; font-size: 13px; }
        caption { text-align: left; font-weight: 600; padding: 4px 6px; }
        th, td { padding: 3px 8px; border-bottom: 1px solid #eef0f4; text-align: left; white-space: nowrap; }
        th { position: sticky; top: 0; background: #f0f2f6; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; }
        .note, .notice { color: var(--muted); font-size: 13px; }
        .notice { background: #fff; border: 1px solid var(--line); padding: 12px; border-radius: 6px; }
        .download { font-size: 13px; }
        .signin { max-width: 360px; margin: 80px auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 24px; }
        .signin label { display: block; margin: 10px 0 4px; }
        .signin input[type=text], .signin input[type=password] { width: 100%; padding: 7px; font-size: 15px; }
        button { margin-top: 14px; padding: 7px 14px; font-size: 14px; }
        .error { color: #b00020; }
        .filters input, .filters select { margin-right: 8px; }
        """

    /// One page, for a signed-in actor: the menu of their role's pages, the purposes
    /// they may switch between, and the sign-out form with its CSRF token.
    package static func page(_ page: RenderedPage, actor: String, role: Role, purposes: [String], csrf: String?,
                             filters: String = "", stylesheet: String? = nil) -> String {
        var out = head(title: page.page.title, stylesheet: stylesheet)
        out += "<header><strong>Coffer</strong><nav>"
        for item in DashboardPage.pages(for: role) {
            let current = item == page.page ? " aria-current=\"page\"" : ""
            let query = item.readsProjections && page.purpose != nil && purposes.contains(page.purpose!) ? "?purpose=\(page.purpose!)" : ""
            out += "<a href=\"/p/\(item.rawValue)\(HTML.escape(query))\"\(current)>\(HTML.escape(item.title))</a>"
        }
        out += "</nav><span class=\"who\">\(HTML.escape(actor)) (\(role.rawValue))"
        if let csrf {
            out += " <form method=\"post\" action=\"/signout\"><input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape(csrf))\">"
                + "<button type=\"submit\">Sign out</button></form>"
        }
        out += "</span></header><main>" + body(page, purposes: purposes, filters: filters, links: csrf != nil) + "</main></body></html>"
        return out
    }

    /// A page's content (headline figures, sections), without the frame.
    package static func body(_ page: RenderedPage, purposes: [String], filters: String = "", links: Bool = true) -> String {
        var out = "<h1>\(HTML.escape(page.page.title))</h1>"
        if let purpose = page.purpose {
            out += "<p class=\"purposes\">Projection: <b>\(HTML.escape(purpose))</b>"
            if links, purposes.count > 1 {
                out += " · switch to " + purposes.filter { $0 != purpose }.map {
                    "<a href=\"/p/\(page.page.rawValue)?purpose=\(HTML.escape($0))\">\(HTML.escape($0))</a>"
                }.joined(separator: " ")
            }
            out += "</p>"
        }
        out += filters
        if let notice = page.notice { out += "<p class=\"notice\">\(HTML.escape(notice))</p>" }
        if !page.figures.isEmpty {
            out += "<div class=\"figures\">" + page.figures.map {
                "<div class=\"figure\"><b>\(HTML.escape($0.value))</b><span>\(HTML.escape($0.label))</span></div>"
            }.joined() + "</div>"
        }
        for section in page.sections {
            out += "<section id=\"\(HTML.escape(section.id))\"><h2>\(HTML.escape(section.title))</h2>"
            let table = "<div class=\"tablewrap\">" + section.table.html(caption: "Data: " + section.title) + "</div>"
            if let chart = section.chart {
                out += "<div class=\"pair\"><figure>\(chart)</figure><div>\(table)</div></div>"
            } else {
                out += table
            }
            if let note = section.note { out += "<p class=\"note\">\(HTML.escape(note))</p>" }
            if links {
                let query = page.purpose.map { "?purpose=\($0)" } ?? ""
                out += "<p class=\"download\"><a href=\"/p/\(page.page.rawValue)/\(HTML.escape(section.id)).csv\(HTML.escape(query))\" download>"
                    + "Download CSV</a></p>"
            }
            out += "</section>"
        }
        return out
    }

    /// The sign-in form; `csrf` ties it to the browser that asked for it.
    package static func signIn(csrf: String, error: String? = nil) -> String {
        head(title: "Sign in") + "<main><form class=\"signin\" method=\"post\" action=\"/signin\"><h1>Coffer</h1>"
            + (error.map { "<p class=\"error\" role=\"alert\">\(HTML.escape($0))</p>" } ?? "")
            + "<label for=\"actor\">Actor</label><input type=\"text\" id=\"actor\" name=\"actor\" autocomplete=\"username\" required>"
            + "<label for=\"passphrase\">Passphrase</label><input type=\"password\" id=\"passphrase\" name=\"passphrase\" "
            + "autocomplete=\"current-password\" required>"
            + "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape(csrf))\"><button type=\"submit\">Sign in</button></form></main></body></html>"
    }

    /// A short page for a refusal (403, 404).
    package static func message(_ title: String, _ text: String) -> String {
        head(title: title) + "<main><h1>\(HTML.escape(title))</h1><p>\(HTML.escape(text))</p><p><a href=\"/\">Back</a></p></main></body></html>"
    }

    static func head(title: String, stylesheet: String? = nil) -> String {
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            + "<title>\(HTML.escape(title)) · Coffer</title>"
            + (stylesheet.map { "<style>\($0)</style>" } ?? "<link rel=\"stylesheet\" href=\"/static/style.css\">")
            + "</head><body>"
    }
}
