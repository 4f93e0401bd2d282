/*
 * The preview page: a small mail client on the left, the add-on panel on the right.
 *
 * Opening a message or an event asks the server (/demo/api/send) to build and send the
 * event Google would send; the answer's navigations drive a card stack exactly like
 * Gmail's (pushCard, updateCard, pop, popToRoot, popToCard) and notifications show as a
 * toast. Card buttons send their action with the card's form inputs and parameters.
 *
 * "Deliver a new email" asks the server (/demo/api/deliver) to have the simulator deliver a message
 * from the open message's contact to the rep, then refreshes the open card every couple of seconds
 * until the new subject is on it (push -> Pub/Sub -> a sync worker -> Firestore -> the card).
 */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const DELIVERY_REFRESH_MS = 2000;   // how often the open card is asked again after a delivery
  const DELIVERY_WAIT_MS = 60000;     // then the page stops asking and says so
  const page = {
    rep: null,
    host: "GMAIL",
    context: {},        // {messageId} or {eventId} of the open item; {} on the home page
    message: null,      // the open message's summary (Gmail), for "Deliver a new email"
    delivered: null,    // the last delivery: {subject, deliveredAt, onCardMs} once the card shows it
    stack: [],          // card stack, top last
    errors: [],         // backend errors seen (status >= 400 or an unusable answer)
    requests: 0,
    seq: 0,
  };
  window.previewState = page;

  async function api(path, options) {
    const response = await fetch(path, options);
    const body = await response.json().catch(() => ({ error: "not JSON" }));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  // Gmail's snippets arrive HTML-escaped ("I&#39;d"); show them as text.
  function unescape(text) {
    return new DOMParser().parseFromString("<body>" + (text || ""), "text/html").body.textContent;
  }

  function fmtDate(iso, withTime) {
    if (!iso) return "";
    const d = new Date(iso);
    const sameYear = d.getFullYear() === new Date().getFullYear();
    const opts = { month: "short", day: "numeric" };
    if (!sameYear) opts.year = "numeric";
    if (withTime && iso.length > 10) Object.assign(opts, { hour: "numeric", minute: "2-digit" });
    return d.toLocaleString("en-US", opts);
  }

  function busy(on) {
    $("addon-panel").dataset.busy = on ? "true" : "false";
    $("spinner").classList.toggle("hidden", !on);
  }

  function notice(text, kind) {
    const box = $("notice");
    box.textContent = text;
    box.className = "notice " + (kind || "info");
    clearTimeout(notice.timer);
    if (kind !== "error") notice.timer = setTimeout(() => box.classList.add("hidden"), 6000);
  }

  // -- left pane ---------------------------------------------------------------------------
  async function loadList() {
    const list = $("list");
    list.innerHTML = '<div class="loading">Loading…</div>';
    $("search").classList.toggle("hidden", page.host !== "GMAIL");
    try {
      if (page.host === "GMAIL") {
        const q = $("q").value.trim();
        const data = await api("api/messages?rep=" + encodeURIComponent(page.rep) + (q ? "&q=" + encodeURIComponent(q) : ""));
        renderMessages(data.messages);
      } else {
        const data = await api("api/events?rep=" + encodeURIComponent(page.rep));
        renderEvents(data.events);
      }
    } catch (err) {
      list.innerHTML = "";
      list.appendChild(Object.assign(document.createElement("div"), { className: "list-error", textContent: String(err.message) }));
    }
  }

  function row(className, id, parts, onOpen) {
    const node = document.createElement("div");
    node.className = "row " + className;
    node.dataset.id = id;
    for (const [cls, text] of parts) {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      node.appendChild(span);
    }
    node.addEventListener("click", () => {
      document.querySelectorAll(".row.selected").forEach((r) => r.classList.remove("selected"));
      node.classList.add("selected");
      onOpen();
    });
    return node;
  }

  function renderMessages(messages) {
    const list = $("list");
    list.innerHTML = "";
    if (!messages.length) list.innerHTML = '<div class="loading">No messages.</div>';
    for (const m of messages) {
      const sent = (m.labels || []).includes("SENT");
      const node = row("msg-row", m.id, [
        ["from", sent ? "To: " + m.to.split(",")[0].replace(/<.*>/, "").trim() : m.from],
        ["date", fmtDate(m.date)],
        ["subject", m.subject],
        ["snippet", unescape(m.snippet)],
      ], () => openMessage(m));
      node.dataset.from = m.fromAddress;
      node.dataset.subject = m.subject;
      if ((m.labels || []).includes("UNREAD")) node.classList.add("unread");
      list.appendChild(node);
    }
  }

  function renderEvents(events) {
    const list = $("list");
    list.innerHTML = "";
    if (!events.length) list.innerHTML = '<div class="loading">No events in the last 60 days.</div>';
    for (const e of events) {
      const external = e.attendees.filter((a) => a && !a.endsWith("@" + page.rep.split("@")[1]));
      const node = row("event-row", e.id, [
        ["from", e.summary],
        ["date", fmtDate(e.start, !e.allDay)],
        ["subject", (e.allDay ? "All day · " : "") + e.attendees.length + " attendee" + (e.attendees.length === 1 ? "" : "s")],
        ["snippet", external.join(", ")],
      ], () => openEvent(e));
      node.dataset.external = String(external.length);
      node.dataset.externalNames = JSON.stringify(e.attendees.map((a, i) => [a, e.attendeeNames[i]])
        .filter(([a]) => external.includes(a)).map(([, name]) => name));
      list.appendChild(node);
    }
  }

  // -- reading pane ---------------------------------------------------------------------------
  function showReading(title, lines, body) {
    const pane = $("reading");
    pane.innerHTML = "";
    const h = document.createElement("h1");
    h.textContent = title;
    pane.appendChild(h);
    const meta = document.createElement("dl");
    for (const [k, v] of lines) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      meta.append(dt, dd);
    }
    pane.appendChild(meta);
    if (body) {
      const p = document.createElement("p");
      p.className = "body";
      p.textContent = body;
      pane.appendChild(p);
    }
  }

  function openMessage(m) {
    showReading(m.subject, [["From", m.from + " <" + m.fromAddress + ">"], ["To", m.to], ["Date", fmtDate(m.date, true)]],
      unescape(m.snippet) + " …");
    page.context = { messageId: m.id };
    page.message = m;
    trigger("gmail");
  }

  function openEvent(e) {
    showReading(e.summary, [["When", fmtDate(e.start, !e.allDay) + " – " + fmtDate(e.end, !e.allDay)],
      ["Organizer", e.organizer || ""], ["Guests", e.attendees.join(", ")]]);
    page.context = { eventId: e.id };
    page.message = null;
    trigger("calendar");
  }

  // -- the add-on panel ---------------------------------------------------------------------------
  async function send(payload) {
    busy(true);
    page.requests += 1;
    try {
      const answer = await api("api/send", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({ rep: page.rep, hostApp: page.host, context: page.context }, payload)),
      });
      $("wire-status").textContent = answer.path + " → " + answer.status + " in " + answer.ms + " ms";
      $("wire-request").textContent = JSON.stringify(answer.event, null, 2);
      $("wire-response").textContent = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body, null, 2);
      if (answer.status >= 400 || typeof answer.body !== "object") {
        backendError(answer.path + " answered " + answer.status, answer.body);
        return null;
      }
      return answer.body;
    } catch (err) {
      backendError("preview request failed", err.message);
      return null;
    } finally {
      busy(false);
    }
  }

  function backendError(title, detail) {
    page.errors.push(title);
    const host = $("card-host");
    host.innerHTML = "";
    const box = document.createElement("div");
    box.className = "backend-error";
    box.textContent = title + ": " + (typeof detail === "string" ? detail : JSON.stringify(detail));
    host.appendChild(box);
  }

  async function trigger(kind) {
    if (kind === "homepage") page.context = {};
    $("notice").classList.add("hidden");  // a notification belongs to the card that raised it
    const seq = ++page.seq;
    const body = await send({ trigger: kind });
    if (body && seq === page.seq) {  // a later click wins over a slower earlier answer
      page.stack = [];
      apply(body.action || (body.renderActions || {}).action, body);
    }
  }

  async function runAction(action, source) {
    const top = $("card-host").querySelector(".card");
    const parameters = {};
    for (const p of action.parameters || []) parameters[p.key] = p.value;
    const seq = ++page.seq;
    const body = await send({
      trigger: "action",
      function: action.function,
      parameters,
      formInputs: top ? CardRenderer.collectInputs(top) : {},
    });
    if (body && seq === page.seq) apply((body.renderActions || {}).action || body.action, body);
  }

  function apply(action, raw) {
    if (!action) {
      backendError("the answer has no action", raw);
      return;
    }
    for (const nav of action.navigations || []) {
      if (nav.pushCard) page.stack.push(nav.pushCard);
      else if (nav.updateCard) {
        if (page.stack.length) page.stack[page.stack.length - 1] = nav.updateCard;
        else page.stack.push(nav.updateCard);
      } else if (nav.pop) page.stack.pop();
      else if (nav.popToRoot) page.stack = page.stack.slice(0, 1);
      else if (nav.popToCard) {
        const i = page.stack.map((c) => c.name).lastIndexOf(nav.popToCard);
        if (i >= 0) page.stack = page.stack.slice(0, i + 1);
      } else if (nav.endNavigation) page.stack = page.stack.slice(0, 1);
      else backendError("unknown navigation " + Object.keys(nav).join(","), nav);
    }
    if (action.notification) notice(action.notification.text);
    if (action.link && action.link.url) notice("The add-on opens " + action.link.url);
    render();
  }

  function render() {
    const host = $("card-host");
    host.innerHTML = "";
    $("back").classList.toggle("hidden", page.stack.length < 2);
    const card = page.stack[page.stack.length - 1];
    if (!card) return;
    host.appendChild(CardRenderer.renderCard(card, { onClick }));
    host.scrollTop = 0;
  }

  function onClick(click) {
    if (click.action) return runAction(click.action);
    if (click.openDynamicLinkAction) return runAction(click.openDynamicLinkAction);
    if (click.openLink) {
      notice("Opens " + click.openLink.url);
      return;
    }
    if (click.card) {
      page.stack.push(click.card);
      render();
    }
  }

  // -- a new email, through the simulator ----------------------------------------------------------
  function firstAddress(header) {
    const first = (header || "").split(",")[0];
    const angle = first.match(/<([^>]+)>/);
    return { address: (angle ? angle[1] : first).trim(), name: angle ? first.replace(/<.*>/, "").replace(/"/g, "").trim() : "" };
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function deliver() {
    const m = page.message;
    if (page.host !== "GMAIL" || !m || page.context.messageId !== m.id) {
      notice("Open a message from a customer first: the new email comes from them.", "info");
      return;
    }
    const sent = (m.labels || []).includes("SENT");
    const contact = sent ? firstAddress(m.to) : { address: m.fromAddress, name: m.from };
    const button = $("deliver");
    button.disabled = true;
    try {
      const made = await api("api/deliver", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ rep: page.rep, from: contact.address, name: contact.name }),
      });
      const began = Date.now();
      page.delivered = { subject: made.subject, deliveredAt: made.deliveredAt, onCardMs: null };
      notice("Delivered “" + made.subject + "” from " + made.from + ": waiting for sync…");
      while (Date.now() - began < DELIVERY_WAIT_MS) {
        await sleep(DELIVERY_REFRESH_MS);
        if (page.context.messageId !== m.id) return;  // the rep opened something else: stop refreshing
        await trigger("gmail");
        if ($("card-host").textContent.includes(made.subject)) {
          page.delivered.onCardMs = Date.now() - began;
          notice("On the card " + (page.delivered.onCardMs / 1000).toFixed(1) + " s after delivery (Gmail watch → Pub/Sub → sync worker → card)");
          loadList();
          return;
        }
        notice("Delivered “" + made.subject + "”: waiting for sync… " + Math.round((Date.now() - began) / 1000) + " s");
      }
      notice("Not on the card after " + DELIVERY_WAIT_MS / 1000 + " s: see the sync workers' logs", "error");
    } catch (err) {
      notice("Delivery failed: " + err.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  // -- wiring ----------------------------------------------------------------------------------
  function setHost(host) {
    page.host = host;
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.host === host));
    loadList();
    trigger("homepage");
  }

  async function init() {
    const data = await api("api/reps");
    const select = $("rep");
    for (const rep of data.reps) select.appendChild(Object.assign(document.createElement("option"), { value: rep, textContent: rep }));
    page.rep = data.reps[0];
    select.addEventListener("change", () => {
      page.rep = select.value;
      setHost(page.host);
    });
    document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => setHost(t.dataset.host)));
    $("search").addEventListener("submit", (event) => {
      event.preventDefault();
      loadList();
    });
    $("home").addEventListener("click", () => trigger("homepage"));
    $("deliver").addEventListener("click", deliver);
    $("back").addEventListener("click", () => {
      page.stack.pop();
      render();
    });
    setHost("GMAIL");
    document.body.dataset.ready = "true";
  }

  init().catch((err) => backendError("the preview could not start", err.message));
})();
