/// The page's style and script, served from the binary (no build step, nothing fetched from
/// the internet: the page must work on an isolated management network).
public enum ViewAssets {
    /// States carry a word and a mark; colour only repeats them. Focus stays visible.
    public static let css = """
        :root { color-scheme: light dark; --good: #1a7f37; --warn: #9a6700; --bad: #cf222e; }
        @media (prefers-color-scheme: dark) { :root { --good: #3fb950; --warn: #d29922; --bad: #ff7b72; } }
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
    /// others stay where they are. Times that change on every beat (`data-volatile`) are
    /// updated in place, not by swapping their section; the live region speaks only when a
    /// section changed. A stream that ends for good (this controller stands by, or restarts)
    /// is opened again after a growing pause.
    public static let js = """
        "use strict";
        (() => {
          const view = document.getElementById("view");
          const live = document.getElementById("live");
          if (!view || !window.EventSource) return;
          let busy = false, again = false, updates = 0, last = view.dataset.after || "0", pause = 2000;
          const say = (text, stale) => {
            if (live.textContent !== text) live.textContent = text;
            live.classList.toggle("stale", !!stale);
          };
          const utc = () => new Date().toISOString().slice(11, 19) + " UTC";
          const volatile = (section) => [...section.querySelectorAll("[data-volatile]")];
          // The section as rendered: volatile times blanked, and the tabindex this script gave
          // an element to focus it taken off again (the server never renders it).
          const steady = (section) => {
            const copy = section.cloneNode(true);
            for (const v of volatile(copy)) v.textContent = "";
            for (const e of [copy, ...copy.querySelectorAll("[data-focus-added]")]) {
              if (e.hasAttribute("data-focus-added")) { e.removeAttribute("tabindex"); e.removeAttribute("data-focus-added"); }
            }
            return copy.outerHTML;
          };
          // The element to focus in a new section: the same id, or the same row or operation's.
          function counterpart(section, active) {
            if (active.id) { const same = section.querySelector("#" + CSS.escape(active.id)); if (same) return same; }
            const keyed = active.closest("[data-operation],[data-host],[data-vm],[data-device],[data-attachment],[data-event]");
            if (keyed) {
              const name = [...keyed.attributes].find(a => a.name.startsWith("data-") && a.name !== "data-field");
              const row = name && section.querySelector("[" + name.name + "='" + CSS.escape(name.value) + "']");
              if (row) return row.querySelector(active.tagName.toLowerCase()) || row;
            }
            return section;
          }
          async function refresh() {
            if (busy) { again = true; return; }
            busy = true;
            try {
              const reply = await fetch("/view/sections", { cache: "no-store", credentials: "same-origin" });
              if (!reply.ok) { say("Could not refresh: " + reply.status + " " + reply.statusText, true); return; }
              const fresh = document.createElement("template");
              fresh.innerHTML = await reply.text();
              const changed = [];
              for (const section of fresh.content.querySelectorAll("section[id]")) {
                const old = document.getElementById(section.id);
                if (!old) continue;
                const open = new Set([...old.querySelectorAll("details[open]")].map(d => d.closest("[data-operation]")?.dataset.operation));
                for (const d of section.querySelectorAll("details")) if (open.has(d.closest("[data-operation]")?.dataset.operation)) d.open = true;
                if (steady(old) === steady(section)) {
                  const now = volatile(section);
                  volatile(old).forEach((v, i) => { if (now[i] && v.textContent !== now[i].textContent) v.textContent = now[i].textContent; });
                  continue;
                }
                const active = old.contains(document.activeElement) ? document.activeElement : null;
                old.replaceWith(section);
                changed.push(section.querySelector("h2")?.textContent || section.id);
                if (active) {
                  const target = counterpart(section, active);
                  if (!target.hasAttribute("tabindex") && target.tabIndex < 0) {
                    target.setAttribute("tabindex", "-1");
                    target.setAttribute("data-focus-added", "");
                  }
                  target.focus({ preventScroll: true });
                }
              }
              updates += 1;
              view.dataset.updates = String(updates);
              if (changed.length) say("Updated " + changed.join(", ").toLowerCase() + " at " + utc());
              else if (live.classList.contains("stale")) say("Live: following the controller's events");
            } catch (error) {
              say("Could not refresh: " + error, true);
            } finally {
              busy = false;
              if (again) { again = false; refresh(); }
            }
          }
          function follow() {
            const stream = new EventSource("/v1/events/stream?after=" + encodeURIComponent(last));
            stream.onmessage = (event) => { if (event.lastEventId) last = event.lastEventId; refresh(); };
            stream.onopen = () => { pause = 2000; say("Live: following the controller's events"); refresh(); };
            stream.onerror = () => {
              if (stream.readyState !== EventSource.CLOSED) { say("Live updates interrupted; reconnecting…", true); return; }
              // Refused (a standby answers 503): the browser gives up on its own; ask again later.
              say("Live updates stopped; trying again in " + pause / 1000 + " s", true);
              setTimeout(follow, pause);
              pause = Math.min(pause * 2, 30000);
            };
          }
          follow();
          setInterval(refresh, 5000);
        })();

        """
}
