/*
 * Card JSON (google.apps.card.v1, proto JSON in lowerCamelCase) -> HTML, like Gmail's add-on panel.
 *
 * Covers every widget of the card reference: header, sections (collapsible), textParagraph,
 * decoratedText (icons, button, switch, onClick), buttonList, textInput, selectionInput (all types),
 * dateTimePicker, divider, image, grid, columns, chipList, fixedFooter, cardActions. Anything else
 * is drawn as a red "unknown widget" marker and listed in CardRenderer.unknown, so a card Gmail
 * could not show never looks fine here.
 *
 * Text follows Google's card formatting: <b> <i> <u> <s> <strike> <font color> <a href> <br> <time>
 * and newlines; every other tag is dropped and its text kept.
 */
(function () {
  "use strict";

  const ALLOWED_TAGS = new Set(["B", "I", "U", "S", "STRIKE", "FONT", "A", "BR", "TIME", "STRONG", "EM"]);
  // Google's knownIcon values, drawn with glyphs the DejaVu fonts carry (the demo loads nothing from the
  // network and a bare Debian machine has no emoji font).
  const KNOWN_ICONS = {
    AIRPLANE: "✈", BOOKMARK: "⚑", BUS: "⇨", CAR: "⇨", CLOCK: "◷", CONFIRMATION_NUMBER_ICON: "#",
    DOLLAR: "$", DESCRIPTION: "▤", EMAIL: "✉", EVENT_PERFORMER: "♪", EVENT_SEAT: "▣",
    FLIGHT_ARRIVAL: "✈", FLIGHT_DEPARTURE: "✈", HOTEL: "⌂", HOTEL_ROOM_TYPE: "⌂", INVITE: "✉",
    MAP_PIN: "⚲", MEMBERSHIP: "▭", MULTIPLE_PEOPLE: "⚇", OFFER: "%", PERSON: "☺", PHONE: "☎",
    RESTAURANT_ICON: "♨", SHOPPING_CART: "⊔", STAR: "★", STORE: "⌂", TICKET: "▭", TRAIN: "⇨",
    VIDEO_CAMERA: "▶", VIDEO_PLAY: "▶",
  };
  // Material Symbols names Sidecar's cards may use; any other name shows its first letter.
  const MATERIAL_ICONS = {
    add: "+", arrow_back: "←", badge: "▭", business: "▥", calendar_month: "▦", call: "☎", check: "✓",
    close: "✕", delete: "✕", description: "▤", domain: "▥", download: "⤓", edit: "✎", email: "✉",
    error: "⚠", event: "▦", filter_list: "☰", flag: "⚑", group: "⚇", groups: "⚇", handshake: "⚭",
    history: "◷", info: "ℹ", label: "⚑", link: "∞", mail: "✉", merge: "⇄", more_vert: "⋮", note: "✎",
    note_add: "✎", notes: "✎", open_in_new: "↗", person: "☺", person_add: "☺", phone: "☎", refresh: "↻",
    schedule: "◷", search: "⚲", sell: "%", settings: "⚙", star: "★", sticky_note_2: "✎", sync: "↻",
    tag: "#", timeline: "◷", trending_up: "↗", upload: "⤒", visibility: "◉", warning: "⚠", work: "▥",
  };

  const state = { unknown: [] };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function unknown(kind, name, value) {
    state.unknown.push(kind + ":" + name);
    const marker = el("div", "unknown-widget");
    marker.textContent = "⚠ unknown " + kind + ": " + name;
    marker.title = JSON.stringify(value, null, 2);
    return marker;
  }

  // -- text -------------------------------------------------------------------------------
  function sanitise(source, target) {
    for (const node of Array.from(source.childNodes)) {
      if (node.nodeType === Node.TEXT_NODE) {
        const parts = node.textContent.split("\n");
        parts.forEach((part, i) => {
          if (i > 0) target.appendChild(document.createElement("br"));
          target.appendChild(document.createTextNode(part));
        });
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        if (!ALLOWED_TAGS.has(node.tagName)) {
          sanitise(node, target);
          continue;
        }
        const copy = document.createElement(node.tagName === "FONT" ? "span" : node.tagName.toLowerCase());
        if (node.tagName === "FONT" && node.getAttribute("color")) {
          copy.style.color = node.getAttribute("color");
        }
        if (node.tagName === "A") {
          const href = node.getAttribute("href") || "";
          if (/^(https?:|mailto:|tel:)/i.test(href)) copy.setAttribute("href", href);
          copy.setAttribute("target", "_blank");
          copy.setAttribute("rel", "noopener");
        }
        sanitise(node, copy);
        target.appendChild(copy);
      }
    }
    return target;
  }

  function formatted(tag, className, text) {
    const node = el(tag, className);
    if (text === undefined || text === null) return node;
    const parsed = new DOMParser().parseFromString("<body>" + String(text) + "</body>", "text/html");
    return sanitise(parsed.body, node);
  }

  // -- icons, actions -----------------------------------------------------------------------
  function icon(spec, className) {
    const box = el("span", "card-icon " + (className || ""));
    if (!spec) return box;
    if (spec.knownIcon) {
      box.textContent = KNOWN_ICONS[spec.knownIcon] || "•";
      if (!KNOWN_ICONS[spec.knownIcon]) box.appendChild(unknown("icon", spec.knownIcon, spec));
    } else if (spec.materialIcon) {
      const name = spec.materialIcon.name || "";
      box.textContent = MATERIAL_ICONS[name] || name.charAt(0).toUpperCase();
      box.title = name;
    } else if (spec.iconUrl) {
      const img = el("img");
      img.src = spec.iconUrl;
      img.alt = spec.altText || "";
      if (spec.imageType === "CIRCLE") img.className = "circle";
      box.appendChild(img);
    }
    if (spec.altText) box.title = spec.altText;
    return box;
  }

  function clickable(node, onClick, ctx) {
    if (!onClick) return node;
    node.classList.add("clickable");
    node.addEventListener("click", (event) => {
      event.stopPropagation();
      ctx.onClick(onClick, node);
    });
    return node;
  }

  function colour(c) {
    if (!c) return null;
    const to255 = (v) => Math.round((v || 0) * 255);
    const alpha = c.alpha === undefined ? 1 : c.alpha;
    return "rgba(" + to255(c.red) + "," + to255(c.green) + "," + to255(c.blue) + "," + alpha + ")";
  }

  function button(spec, ctx) {
    const node = el("button", "card-button");
    node.type = "button";
    const kind = spec.type || (spec.color ? "FILLED" : "TEXT");
    node.classList.add("type-" + kind.toLowerCase());
    if (spec.icon) node.appendChild(icon(spec.icon, "button-icon"));
    if (spec.text) node.appendChild(formatted("span", "button-text", spec.text));
    if (spec.color) {
      node.style.background = colour(spec.color);
      node.style.color = "#fff";
    }
    if (spec.altText) node.title = spec.altText;
    if (spec.disabled) node.disabled = true;
    if (spec.onClick && spec.onClick.overflowMenu) {
      return overflow(node, spec.onClick.overflowMenu, ctx);
    }
    return clickable(node, spec.onClick, ctx);
  }

  function overflow(trigger, menu, ctx) {
    const wrap = el("span", "overflow");
    const list = el("div", "overflow-menu hidden");
    for (const item of menu.items || []) {
      const entry = el("div", "overflow-item");
      if (item.startIcon) entry.appendChild(icon(item.startIcon));
      entry.appendChild(formatted("span", "", item.text));
      if (item.disabled) entry.classList.add("disabled");
      else clickable(entry, item.onClick, ctx);
      list.appendChild(entry);
    }
    trigger.addEventListener("click", () => list.classList.toggle("hidden"));
    wrap.append(trigger, list);
    return wrap;
  }

  // -- widgets --------------------------------------------------------------------------------
  const WIDGETS = {
    textParagraph(spec) {
      const node = formatted("div", "text-paragraph", spec.text);
      if (spec.maxLines) {
        node.style.webkitLineClamp = String(spec.maxLines);
        node.classList.add("clamped");
      }
      return node;
    },

    decoratedText(spec, ctx) {
      const row = el("div", "decorated-text");
      const start = spec.startIcon || spec.icon;
      if (start) row.appendChild(icon(start, "start-icon"));
      const body = el("div", "dt-body" + (spec.wrapText ? " wrap" : ""));
      if (spec.topLabel || spec.topLabelText) body.appendChild(formatted("div", "dt-top", spec.topLabel || (spec.topLabelText || {}).text));
      body.appendChild(formatted("div", "dt-text", spec.text || (spec.contentText || {}).text));
      if (spec.bottomLabel || spec.bottomLabelText) body.appendChild(formatted("div", "dt-bottom", spec.bottomLabel || (spec.bottomLabelText || {}).text));
      row.appendChild(body);
      if (spec.button) row.appendChild(button(spec.button, ctx));
      if (spec.switchControl) row.appendChild(switchControl(spec.switchControl, ctx));
      if (spec.endIcon) row.appendChild(icon(spec.endIcon, "end-icon"));
      return clickable(row, spec.onClick, ctx);
    },

    buttonList(spec, ctx) {
      const row = el("div", "button-list");
      for (const b of spec.buttons || []) row.appendChild(button(b, ctx));
      return row;
    },

    textInput(spec, ctx) {
      const box = el("label", "text-input");
      const multi = spec.type === "MULTIPLE_LINE";
      const input = el(multi ? "textarea" : "input", "input");
      if (!multi) input.type = "text";
      input.name = spec.name;
      input.dataset.inputName = spec.name;
      input.dataset.inputKind = "string";
      input.value = spec.value || "";
      input.placeholder = spec.placeholderText || " ";
      if (spec.validation && spec.validation.characterLimit) input.maxLength = spec.validation.characterLimit;
      box.appendChild(input);
      if (spec.label) box.appendChild(el("span", "floating-label", spec.label));
      if (spec.hintText) box.appendChild(el("span", "hint", spec.hintText));
      const suggestions = ((spec.initialSuggestions || {}).items || []).map((s) => s.text);
      if (suggestions.length) {
        const list = el("datalist");
        list.id = "suggest-" + spec.name + "-" + Math.random().toString(36).slice(2);
        for (const text of suggestions) {
          const option = el("option");
          option.value = text;
          list.appendChild(option);
        }
        input.setAttribute("list", list.id);
        box.appendChild(list);
      }
      if (spec.onChangeAction) input.addEventListener("change", () => ctx.onClick({ action: spec.onChangeAction }, input));
      return box;
    },

    selectionInput(spec, ctx) {
      const box = el("div", "selection-input type-" + (spec.type || "CHECK_BOX").toLowerCase());
      if (spec.label) box.appendChild(el("div", "selection-label", spec.label));
      const type = spec.type || "CHECK_BOX";
      const items = spec.items || [];
      const changed = (node) => spec.onChangeAction && ctx.onClick({ action: spec.onChangeAction }, node);
      if (type === "DROPDOWN" || type === "MULTI_SELECT") {
        const select = el("select", "input");
        select.name = spec.name;
        select.dataset.inputName = spec.name;
        select.dataset.inputKind = "string";
        if (type === "MULTI_SELECT") select.multiple = true;
        for (const item of items) {
          const option = el("option", "", item.text);
          option.value = item.value;
          option.selected = !!item.selected;
          select.appendChild(option);
        }
        select.addEventListener("change", () => changed(select));
        box.appendChild(select);
        if (spec.externalDataSource || spec.platformDataSource) box.appendChild(el("div", "hint", "(suggestions come from a data source)"));
        return box;
      }
      const kind = type === "RADIO_BUTTON" ? "radio" : "checkbox";
      for (const item of items) {
        const line = el("label", "selection-item" + (type === "SWITCH" ? " switch" : ""));
        const input = el("input");
        input.type = kind;
        input.name = spec.name;
        input.value = item.value;
        input.checked = !!item.selected;
        input.dataset.inputName = spec.name;
        input.dataset.inputKind = "string";
        input.addEventListener("change", () => changed(input));
        line.appendChild(input);
        if (type === "SWITCH") line.appendChild(el("span", "switch-track"));
        line.appendChild(formatted("span", "selection-text", item.text));
        if (item.bottomText) line.appendChild(formatted("span", "hint", item.bottomText));
        box.appendChild(line);
      }
      return box;
    },

    dateTimePicker(spec, ctx) {
      const box = el("label", "text-input datetime");
      const input = el("input", "input");
      const type = spec.type || "DATE_AND_TIME";
      input.type = type === "DATE_ONLY" ? "date" : type === "TIME_ONLY" ? "time" : "datetime-local";
      input.name = spec.name;
      input.dataset.inputName = spec.name;
      input.dataset.inputKind = type;
      if (spec.valueMsEpoch) {
        const iso = new Date(Number(spec.valueMsEpoch)).toISOString();
        input.value = type === "DATE_ONLY" ? iso.slice(0, 10) : type === "TIME_ONLY" ? iso.slice(11, 16) : iso.slice(0, 16);
      }
      box.appendChild(input);
      if (spec.label) box.appendChild(el("span", "floating-label fixed", spec.label));
      if (spec.onChangeAction) input.addEventListener("change", () => ctx.onClick({ action: spec.onChangeAction }, input));
      return box;
    },

    divider() {
      return el("hr", "divider");
    },

    image(spec, ctx) {
      const img = el("img", "card-image");
      img.src = spec.imageUrl;
      img.alt = spec.altText || "";
      return clickable(img, spec.onClick, ctx);
    },

    grid(spec, ctx) {
      const box = el("div", "grid");
      if (spec.title) box.appendChild(formatted("div", "grid-title", spec.title));
      const cells = el("div", "grid-cells");
      cells.style.gridTemplateColumns = "repeat(" + (spec.columnCount || 2) + ", 1fr)";
      for (const item of spec.items || []) {
        const cell = el("div", "grid-item" + (spec.borderStyle ? " bordered" : ""));
        if (item.image && item.image.imageUri) {
          const img = el("img");
          img.src = item.image.imageUri;
          img.alt = item.image.altText || "";
          cell.appendChild(img);
        }
        if (item.title) cell.appendChild(formatted("div", "grid-item-title", item.title));
        if (item.subtitle) cell.appendChild(formatted("div", "grid-item-subtitle", item.subtitle));
        if (spec.onClick) {
          // Google reports the clicked item's id as the "grid_item_identifier" parameter.
          cell.classList.add("clickable");
          cell.addEventListener("click", () => {
            const onClick = JSON.parse(JSON.stringify(spec.onClick));
            if (onClick.action) {
              onClick.action.parameters = (onClick.action.parameters || []).concat([{ key: "grid_item_identifier", value: item.id || "" }]);
            }
            ctx.onClick(onClick, cell);
          });
        }
        cells.appendChild(cell);
      }
      box.appendChild(cells);
      return box;
    },

    columns(spec, ctx) {
      const row = el("div", "columns");
      for (const column of spec.columnItems || []) {
        const col = el("div", "column");
        if (column.horizontalSizeStyle === "FILL_MINIMUM_SPACE") col.classList.add("minimum");
        if (column.horizontalAlignment) col.style.textAlign = column.horizontalAlignment.toLowerCase();
        for (const widget of column.widgets || []) col.appendChild(renderWidget(widget, ctx));
        row.appendChild(col);
      }
      return row;
    },

    chipList(spec, ctx) {
      const row = el("div", "chip-list" + (spec.layout === "HORIZONTAL_SCROLLABLE" ? " scroll" : ""));
      for (const chip of spec.chips || []) {
        const node = el("button", "chip");
        node.type = "button";
        if (chip.icon) node.appendChild(icon(chip.icon));
        node.appendChild(formatted("span", "", chip.label));
        if (chip.disabled || chip.enabled === false) node.disabled = true;
        row.appendChild(clickable(node, chip.onClick, ctx));
      }
      return row;
    },
  };

  function switchControl(spec, ctx) {
    const line = el("label", "selection-item switch inline");
    const input = el("input");
    input.type = "checkbox";
    input.name = spec.name;
    input.value = spec.value || "true";
    input.checked = !!spec.selected;
    input.dataset.inputName = spec.name;
    input.dataset.inputKind = "string";
    if (spec.onChangeAction) input.addEventListener("change", () => ctx.onClick({ action: spec.onChangeAction }, input));
    line.append(input, el("span", spec.controlType === "CHECKBOX" || spec.controlType === "CHECK_BOX" ? "checkbox-only" : "switch-track"));
    return line;
  }

  const WIDGET_PROPERTIES = new Set(["horizontalAlignment"]);

  function renderWidget(widget, ctx) {
    const keys = Object.keys(widget || {}).filter((k) => !WIDGET_PROPERTIES.has(k));
    if (keys.length !== 1 || !WIDGETS[keys[0]]) {
      return unknown("widget", keys.join("+") || "(empty)", widget);
    }
    const node = WIDGETS[keys[0]](widget[keys[0]] || {}, ctx);
    node.classList.add("widget", "widget-" + keys[0]);
    if (widget.horizontalAlignment) node.style.justifyContent = { START: "flex-start", CENTER: "center", END: "flex-end" }[widget.horizontalAlignment] || "";
    return node;
  }

  // -- card --------------------------------------------------------------------------------------
  const CARD_KEYS = new Set(["header", "sections", "sectionDividerStyle", "cardActions", "name", "fixedFooter", "displayStyle", "peekCardHeader"]);
  const SECTION_KEYS = new Set(["header", "widgets", "collapsible", "uncollapsibleWidgetsCount", "collapseControl", "id"]);

  function renderSection(section, ctx) {
    const node = el("section", "card-section");
    for (const key of Object.keys(section)) {
      if (!SECTION_KEYS.has(key)) node.appendChild(unknown("section field", key, section[key]));
    }
    if (section.header) node.appendChild(formatted("div", "section-header", section.header));
    const widgets = section.widgets || [];
    const shown = section.collapsible ? Math.min(section.uncollapsibleWidgetsCount || 0, widgets.length) : widgets.length;
    const rest = el("div", "collapsed-widgets hidden");
    widgets.forEach((widget, i) => (i < shown ? node : rest).appendChild(renderWidget(widget, ctx)));
    if (section.collapsible && widgets.length > shown) {
      node.classList.add("collapsible");
      node.appendChild(rest);
      const control = section.collapseControl || {};
      const toggle = el("button", "collapse-toggle", "Show more ▾");
      toggle.type = "button";
      const expandText = (control.expandButton || {}).text || "Show more ▾";
      const collapseText = (control.collapseButton || {}).text || "Show less ▴";
      toggle.textContent = expandText;
      toggle.addEventListener("click", () => {
        const hidden = rest.classList.toggle("hidden");
        toggle.textContent = hidden ? expandText : collapseText;
      });
      node.appendChild(toggle);
    }
    return node;
  }

  function renderCard(card, ctx) {
    const root = el("div", "card");
    for (const key of Object.keys(card || {})) {
      if (!CARD_KEYS.has(key)) root.appendChild(unknown("card field", key, card[key]));
    }
    if (card.name) root.dataset.cardName = card.name;
    if (card.header) {
      const header = el("div", "card-header");
      if (card.header.imageUrl) {
        const img = el("img", card.header.imageType === "CIRCLE" ? "circle" : "");
        img.src = card.header.imageUrl;
        img.alt = card.header.imageAltText || "";
        header.appendChild(img);
      }
      const titles = el("div", "header-titles");
      titles.appendChild(formatted("div", "card-title", card.header.title));
      if (card.header.subtitle) titles.appendChild(formatted("div", "card-subtitle", card.header.subtitle));
      header.appendChild(titles);
      if ((card.cardActions || []).length) {
        const more = el("button", "card-actions-button", "⋮");
        more.type = "button";
        header.appendChild(overflow(more, { items: card.cardActions.map((a) => ({ text: a.actionLabel, onClick: a.onClick })) }, ctx));
      }
      root.appendChild(header);
    }
    const body = el("div", "card-body" + (card.sectionDividerStyle === "NO_DIVIDER" ? " no-divider" : ""));
    for (const section of card.sections || []) body.appendChild(renderSection(section, ctx));
    root.appendChild(body);
    if (card.fixedFooter) {
      const footer = el("div", "fixed-footer");
      if (card.fixedFooter.secondaryButton) footer.appendChild(button(card.fixedFooter.secondaryButton, ctx));
      if (card.fixedFooter.primaryButton) {
        const primary = button(card.fixedFooter.primaryButton, ctx);
        primary.classList.add("primary");
        footer.appendChild(primary);
      }
      root.appendChild(footer);
    }
    return root;
  }

  /* Google's formInputs for every named input of a rendered card. */
  function collectInputs(root) {
    const inputs = {};
    const add = (name, value) => {
      inputs[name] = inputs[name] || { stringInputs: { value: [] } };
      inputs[name].stringInputs.value.push(value);
    };
    for (const node of root.querySelectorAll("[data-input-name]")) {
      const name = node.dataset.inputName;
      const kind = node.dataset.inputKind;
      if (kind === "DATE_ONLY" || kind === "TIME_ONLY" || kind === "DATE_AND_TIME") {
        if (!node.value) continue;
        if (kind === "TIME_ONLY") {
          const [hours, minutes] = node.value.split(":").map(Number);
          inputs[name] = { timeInput: { hours, minutes } };
        } else if (kind === "DATE_ONLY") {
          inputs[name] = { dateInput: { msSinceEpoch: String(Date.parse(node.value + "T00:00:00Z")) } };
        } else {
          inputs[name] = { dateTimeInput: { msSinceEpoch: String(Date.parse(node.value + ":00Z")), hasDate: true, hasTime: true } };
        }
      } else if (node.tagName === "SELECT") {
        for (const option of node.selectedOptions) add(name, option.value);
      } else if (node.type === "checkbox" || node.type === "radio") {
        if (node.checked) add(name, node.value);
      } else if (node.value !== "") {
        add(name, node.value);
      }
    }
    return inputs;
  }

  window.CardRenderer = { renderCard, collectInputs, state, formatted };
})();
