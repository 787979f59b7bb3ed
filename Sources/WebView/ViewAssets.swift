/// The page's style and script, served from the binary (no build step, nothing fetched from
/// the internet: the page must work on an isolated management network).
public enum ViewAssets {
    /// States carry a word and a mark; colour only repeats them. Focus stays visible.
    public static let css = """
        :root { color-scheme: light dark; --good: #1a7f37; --warn: #9a6700; --bad: #cf222e; }
        body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 78rem; padding: 0 1rem 3rem; }
        header { border-bottom: 1px solid #8886; margin-bottom: 1rem; }
        h1 { margin: .6rem 0 .2rem; }
        nav ul { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; padding: 0; }
        a:focus, main:focus, summary:focus { outline: 3px solid #0969da; outline-offset: 2px; }
        .skip { position: absolute; left: -999px; }
        .skip:focus { left: 1rem; top: .5rem; background: Canvas; padding: .3rem .6rem; }
        table { border-collapse: collapse; margin: .4rem 0 1rem; width: 100%; }
        caption { text-align: left; font-weight: 600; padding: .2rem 0; }
        th, td { border-bottom: 1px solid #8884; padding: .25rem .5rem; text-align: left; vertical-align: top; }
        th[scope=row] { font-weight: 600; }
        article { border: 1px solid #8886; border-radius: 6px; padding: .2rem 1rem .6rem; margin: .8rem 0; }
        .good { color: var(--good); } .warn { color: var(--warn); } .bad { color: var(--bad); font-weight: 600; }
        .state { white-space: nowrap; }
        ol.timeline { padding-left: 1.4rem; } ol.timeline li.failed { color: var(--bad); }
        ol.events { padding-left: 3rem; max-height: 30rem; overflow-y: auto; }
        time { font-variant-numeric: tabular-nums; }
        code { font-size: .92em; }
        #live.stale { color: var(--bad); }

        """

    /// A little script: the server renders everything; this only asks for the sections again
    /// when the event stream says something happened (and every few seconds, for measures that
    /// are no event), and swaps in those that changed, so that focus and open details in the
    /// others stay where they are.
    public static let js = """
        "use strict";
        (() => {
          const view = document.getElementById("view");
          const live = document.getElementById("live");
          if (!view || !window.EventSource) return;
          let busy = false, again = false, updates = 0;
          const say = (text, stale) => { live.textContent = text; live.classList.toggle("stale", !!stale); };
          async function refresh() {
            if (busy) { again = true; return; }
            busy = true;
            try {
              const reply = await fetch("/view/sections", { cache: "no-store", credentials: "same-origin" });
              if (!reply.ok) { say("Could not refresh: " + reply.status + " " + reply.statusText, true); return; }
              const fresh = document.createElement("template");
              fresh.innerHTML = await reply.text();
              for (const section of fresh.content.querySelectorAll("section[id]")) {
                const old = document.getElementById(section.id);
                if (!old) continue;
                const open = new Set([...old.querySelectorAll("details[open]")].map(d => d.closest("[data-operation]")?.dataset.operation));
                for (const d of section.querySelectorAll("details")) if (open.has(d.closest("[data-operation]")?.dataset.operation)) d.open = true;
                if (old.outerHTML !== section.outerHTML) old.replaceWith(section);
              }
              updates += 1;
              view.dataset.updates = String(updates);
              say("Live: updated at " + new Date().toISOString().slice(11, 23) + " UTC");
            } catch (error) {
              say("Could not refresh: " + error, true);
            } finally {
              busy = false;
              if (again) { again = false; refresh(); }
            }
          }
          const stream = new EventSource("/v1/events/stream?after=" + (view.dataset.after || "0"));
          stream.onmessage = () => refresh();
          stream.onopen = () => say("Live: following the controller's events");
          stream.onerror = () => say("Live updates interrupted; reconnecting…", true);
          setInterval(refresh, 5000);
        })();

        """
}
