/// The dashboard's style sheet and script, served from memory (`/static/…`): no network
/// access at run time, nothing to install beside the binary.
enum Assets {
    static let files: [String: (type: String, text: String)] = [
        "style.css": ("text/css; charset=utf-8", css),
        "app.js": ("text/javascript; charset=utf-8", js),
    ]

    static let css = """
        :root { --fg: #1d2327; --muted: #69737b; --line: #d9dee2; --accent: #2c7a4b; --accent2: #c45c1a; --bg: #fbfcfc; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
        header { padding: 10px 24px; border-bottom: 1px solid var(--line); background: #fff; }
        header .brand { font-weight: 700; color: var(--accent); text-decoration: none; margin-right: 12px; }
        header .crumb { color: var(--muted); }
        main { padding: 16px 24px 48px; max-width: 1400px; }
        h1 small { font-weight: 400; color: var(--muted); font-size: 60%; }
        h2 { margin-top: 28px; font-size: 17px; }
        a { color: #1f5f99; }
        table { border-collapse: collapse; margin: 8px 0; background: #fff; }
        th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
        th { font-weight: 600; background: #f1f4f5; white-space: nowrap; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .meta { color: var(--muted); }
        .error { color: #b3261e; }
        .progress { width: 220px; height: 8px; background: #e6eaec; border-radius: 4px; overflow: hidden; display: inline-block; vertical-align: middle; }
        .progress .bar { height: 100%; background: var(--accent); }
        #status .progress { width: 420px; }
        .counts { margin: 4px 0; color: var(--muted); }
        .counts span { color: var(--fg); font-weight: 600; }
        .controls { margin: 10px 0; display: flex; gap: 12px; flex-wrap: wrap; align-items: center; }
        .plots { display: flex; gap: 18px; flex-wrap: wrap; }
        figure { margin: 0; background: #fff; border: 1px solid var(--line); padding: 8px; }
        figcaption { font-weight: 600; margin-bottom: 4px; }
        svg.plot { width: 600px; max-width: 100%; height: auto; font-size: 11px; }
        svg .frame { fill: #fff; stroke: var(--line); }
        svg .grid { stroke: #eef1f2; }
        svg .tick { fill: var(--muted); }
        svg .axis { fill: var(--fg); font-size: 12px; }
        svg .empty { fill: var(--muted); font-size: 14px; }
        svg .line { fill: none; stroke: var(--accent2); stroke-width: 1.5; }
        svg circle.cloud { fill: #9fb3bf; opacity: .55; }
        svg circle.front { fill: var(--accent2); stroke: #fff; stroke-width: 1; }
        svg circle.best { fill: var(--accent); stroke: #fff; stroke-width: 1; }
        svg circle:hover { r: 7; }
        .share { display: inline-block; width: 90px; height: 8px; background: #eef1f2; vertical-align: middle; }
        .share span { display: block; height: 100%; background: var(--accent); }
        .columns { display: flex; gap: 32px; flex-wrap: wrap; }
        pre { background: #fff; border: 1px solid var(--line); padding: 10px; overflow: auto; max-width: 1000px; }
        .st-completed { color: var(--accent); } .st-failed { color: #b3261e; } .st-running { color: #1f5f99; }
        """

    /// Live updates: a search page waits on `/api/search/ID?since=N` (answered when a trial
    /// ends) and reloads its plots; the search list refreshes every few seconds.
    /// `body[data-updates]` counts the updates applied (the browser test reads it).
    static let js = """
        (function () {
          "use strict";
          const body = document.body;
          body.dataset.updates = "0";
          const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
          const fmt = (v) => (v === null || v === undefined ? "\\u2013" : Number(v).toFixed(2));
          function set(root, sel, v) { const el = root && root.querySelector(sel); if (el) el.textContent = String(v); }
          function apply(root, s) {
            if (!root) return;
            set(root, ".ended", s.ended);
            for (const k in s.counts) set(root, ".count-" + k, s.counts[k]);
            set(root, ".state", s.state);
            set(root, ".best", fmt(s.best_accuracy));
            const bar = root.querySelector(".bar");
            if (bar) bar.style.width = Math.min(100, (s.ended * 100) / Math.max(s.budget || s.trials, 1)).toFixed(1) + "%";
          }
          function bump() { body.dataset.updates = String(Number(body.dataset.updates) + 1); }
          async function followSearch() {
            const id = body.dataset.search;
            let ended = Number(body.dataset.ended);
            for (;;) {
              let state = body.dataset.state;
              try {
                const r = await fetch("/api/search/" + id + "?since=" + ended + "&wait=10", { cache: "no-store" });
                if (!r.ok) throw new Error("status " + r.status);
                const s = await r.json();
                apply(document.getElementById("status"), s);
                state = s.state;
                body.dataset.state = state;
                if (s.ended !== ended) {
                  ended = s.ended;
                  body.dataset.ended = String(ended);
                  const p = await fetch(body.dataset.plots, { cache: "no-store" });
                  if (p.ok) document.getElementById("plots").innerHTML = await p.text();
                  bump();
                }
              } catch (e) {
                await sleep(3000);
              }
              if (state === "completed" || state === "cancelled") return;
              await sleep(state === "paused" ? 3000 : 500);
            }
          }
          async function followList() {
            for (;;) {
              await sleep(3000);
              try {
                const r = await fetch("/api/searches", { cache: "no-store" });
                if (!r.ok) continue;
                for (const s of await r.json()) {
                  const link = document.querySelector('#searches a[href="/search/' + s.search + '"]');
                  if (link) apply(link.closest("tr"), s);
                }
                bump();
              } catch (e) { /* the server restarts: try again */ }
            }
          }
          for (const el of document.querySelectorAll("[data-src]")) {
            fetch(el.dataset.src, { cache: "no-store" }).then((r) => (r.ok ? r.text() : null)).then((t) => { if (t !== null) el.innerHTML = t; });
          }
          if (body.dataset.page === "search") followSearch();
          else if (body.dataset.page === "searches") followList();
        })();
        """
}
