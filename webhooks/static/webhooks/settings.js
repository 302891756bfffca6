// Settings → External Events: progressive enhancement of a page that works
// without JavaScript. The server stays the source of truth; this script only
// makes the page quicker to use: header rows added and removed in place,
// sections that collapse, secrets revealed and copied, and test events sent
// without a reload. Every hook is a data-* attribute.
"use strict";

(function () {
  document.documentElement.classList.replace("no-js", "js");

  const liveRegion = createLiveRegion();

  function createLiveRegion() {
    const region = document.createElement("p");
    region.className = "visually-hidden";
    region.setAttribute("aria-live", "polite");
    document.body.append(region);
    return region;
  }

  function announce(text) {
    if (!text) {
      return;
    }
    liveRegion.textContent = "";
    window.setTimeout(function () {
      liveRegion.textContent = text;
    }, 50);
  }

  // The switch at the top: the stylesheet already hides the settings below
  // it while it is off; keep them out of the tab order too and say so.
  function setUpEnabledToggle(form) {
    const toggle = form.querySelector('input[name="enabled"]');
    const region = form.querySelector("[data-needs-enabled]");
    if (!toggle || !region) {
      return;
    }
    toggle.setAttribute("aria-controls", region.id);
    function sync() {
      region.inert = !toggle.checked;
    }
    toggle.addEventListener("change", function () {
      sync();
      announce(toggle.checked ? region.dataset.shownText : region.dataset.hiddenText);
    });
    sync();
  }

  // Header rows: "Add Header" clones the formset's empty row; the trash
  // button marks a row for deletion (Django's DELETE box) and hides it.
  function setUpHeaders(form) {
    const section = form.querySelector("[data-headers]");
    if (!section) {
      return;
    }
    const rows = section.querySelector("[data-header-rows]");
    const template = section.querySelector("[data-header-template]");
    const addButton = section.querySelector("[data-add-header]");
    const total = section.querySelector('input[name$="-TOTAL_FORMS"]');
    const max = Number(section.dataset.maxHeaders);

    function isBlank(row) {
      return Array.from(row.querySelectorAll('input[type="text"], input[type="password"]'))
        .every(function (input) { return input.value === ""; });
    }

    // The blank rows meant for pages without JavaScript are the last ones;
    // drop those nobody has typed into, so "Add Header" is the one way in.
    const extras = Array.from(rows.querySelectorAll("[data-extra-row]")).reverse();
    for (const row of extras) {
      if (row !== rows.lastElementChild || !isBlank(row)) {
        break;
      }
      row.remove();
      total.value = String(Number(total.value) - 1);
    }

    function activeRows() {
      return Array.from(rows.querySelectorAll("[data-header-row]"))
        .filter(function (row) { return !row.hidden; });
    }

    function updateAddButton() {
      const full = activeRows().length >= max;
      addButton.disabled = full;
      addButton.title = full ? section.dataset.fullText : "";
    }

    function enhanceRow(row) {
      row.classList.remove("header-row-extra");
      const checkbox = row.querySelector('input[name$="-DELETE"]');
      const checkboxLabel = row.querySelector("[data-remove-checkbox]");
      const button = row.querySelector("[data-remove-row]");
      if (!checkbox || !button) {
        return;
      }
      checkboxLabel.hidden = true;
      button.hidden = false;
      if (checkbox.checked) {
        row.hidden = true;
      }
      button.addEventListener("click", function () {
        checkbox.checked = true;
        row.hidden = true;
        updateAddButton();
        const next = activeRows().find(function (other) {
          return row.compareDocumentPosition(other) & Node.DOCUMENT_POSITION_FOLLOWING;
        });
        (next ? next.querySelector("input[type='text']") : addButton).focus();
        announce(section.dataset.removedText);
      });
    }

    rows.querySelectorAll("[data-header-row]").forEach(enhanceRow);
    addButton.hidden = false;
    addButton.addEventListener("click", function () {
      if (activeRows().length >= max) {
        return;
      }
      const index = Number(total.value);
      rows.insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__prefix__", String(index)));
      total.value = String(index + 1);
      const row = rows.lastElementChild;
      enhanceRow(row);
      row.querySelector("input[type='text']").focus();
      updateAddButton();
    });
    updateAddButton();
  }

  // Collapsible sections: the heading becomes a button with aria-expanded.
  // Without JavaScript the heading stays a heading and the panel stays open.
  function setUpCollapsibles() {
    document.querySelectorAll("[data-collapsible]").forEach(function (heading) {
      const panel = document.getElementById(heading.dataset.collapsible);
      if (!panel) {
        return;
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "collapse-toggle";
      button.setAttribute("aria-controls", panel.id);
      button.append(...heading.childNodes);
      heading.append(button);
      function setExpanded(expanded) {
        button.setAttribute("aria-expanded", String(expanded));
        panel.hidden = !expanded;
      }
      setExpanded(panel.hasAttribute("data-expanded"));
      button.addEventListener("click", function () {
        setExpanded(button.getAttribute("aria-expanded") !== "true");
      });
    });
  }

  // Authentication: only the chosen kind's fields are shown.
  function setUpAuthKinds(form) {
    const select = form.querySelector('select[name="auth-kind"]');
    if (!select) {
      return;
    }
    const groups = form.querySelectorAll("[data-auth-group]");
    function sync() {
      groups.forEach(function (group) {
        group.hidden = group.dataset.authGroup !== select.value;
      });
    }
    select.addEventListener("change", sync);
    sync();
  }

  async function fetchRevealed(revealForm) {
    const response = await fetch(revealForm.action, {
      method: "POST",
      body: new FormData(revealForm),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      throw new Error(String(response.status));
    }
    return (await response.json()).value;
  }

  function showRevealed(key, value) {
    const output = document.querySelector('[data-reveal-output="' + key + '"]');
    const slot = output.querySelector("[data-reveal-value]");
    if (output.dataset.maskedText === undefined) {
      output.dataset.maskedText = slot.textContent;
    }
    slot.textContent = value;
    output.hidden = false;
    output.dataset.masked = "false";
    setRevealButtons(key, true);
  }

  function hideRevealed(key) {
    const output = document.querySelector('[data-reveal-output="' + key + '"]');
    const slot = output.querySelector("[data-reveal-value]");
    slot.textContent = output.dataset.maskedText || "";
    if (!output.dataset.maskedText) {
      output.hidden = true;
    }
    output.dataset.masked = "true";
    setRevealButtons(key, false);
  }

  function setRevealButtons(key, revealed) {
    document.querySelectorAll('[data-reveal-button="' + key + '"]').forEach(function (button) {
      if (!button.dataset.revealLabel) {
        button.dataset.revealLabel = button.textContent.trim();
      }
      button.textContent = revealed ? button.dataset.hideLabel : button.dataset.revealLabel;
      button.setAttribute("aria-pressed", String(revealed));
    });
  }

  // Reveal: the same POST the page makes without JavaScript, answered as
  // JSON; the value is shown in place, and the button turns into "Hide".
  function setUpReveals() {
    document.querySelectorAll("form[data-reveal-form]").forEach(function (revealForm) {
      const key = revealForm.dataset.revealForm;
      const output = document.querySelector('[data-reveal-output="' + key + '"]');
      if (output && output.dataset.masked === "false") {
        setRevealButtons(key, true);
      }
      revealForm.addEventListener("submit", async function (event) {
        event.preventDefault();
        if (output.dataset.masked === "false") {
          hideRevealed(key);
          return;
        }
        try {
          showRevealed(key, await fetchRevealed(revealForm));
        } catch (error) {
          announce(document.body.dataset.failedText);
        }
      });
    });
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return;
      } catch (error) {
        // Fall back below: the clipboard API may be refused a permission.
      }
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }

  // Copy buttons: a masked secret is revealed first, then copied.
  function setUpCopies() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", async function () {
        const key = button.dataset.copy;
        const output = document.querySelector('[data-reveal-output="' + key + '"]');
        let value = output.querySelector("[data-reveal-value]").textContent;
        try {
          if (output.dataset.masked === "true") {
            const revealForm = document.querySelector('form[data-reveal-form="' + key + '"]');
            value = await fetchRevealed(revealForm);
            showRevealed(key, value);
          }
          await copyText(value);
        } catch (error) {
          announce(document.body.dataset.failedText);
          return;
        }
        const label = button.textContent;
        button.textContent = button.dataset.copiedLabel;
        announce(button.dataset.copiedLabel);
        window.setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  }

  function setUpConfirms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (confirmForm) {
      confirmForm.addEventListener("submit", function (event) {
        if (!window.confirm(confirmForm.dataset.confirm)) {
          event.preventDefault();
        }
      });
    });
  }

  function renderTestResult(region, template, result) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.classList.toggle("test-result-ok", result.succeeded);
    card.classList.toggle("test-result-failed", !result.succeeded);
    const badge = card.querySelector('[data-slot="outcome_label"]');
    badge.classList.toggle("badge-succeeded", result.succeeded);
    badge.classList.toggle("badge-failed", !result.succeeded);
    const values = {
      outcome_label: result.outcome_label || result.status,
      summary: result.summary,
      response_status: result.response_status === null ? "—" : String(result.response_status),
      duration: result.duration_ms === null ? "—" : result.duration_ms + " ms",
      delivery_id: String(result.delivery_id),
      error: result.error,
      response_excerpt: result.response_excerpt,
    };
    Object.keys(values).forEach(function (name) {
      const slot = card.querySelector('[data-slot="' + name + '"]');
      if (slot) {
        slot.textContent = values[name];
      }
    });
    card.querySelector('[data-slot="error"]').hidden = !result.error;
    card.querySelector('[data-slot-wrap="response_excerpt"]').hidden = !result.response_excerpt;
    region.replaceChildren(card);
  }

  function renderTestError(region, message) {
    const alert = document.createElement("p");
    alert.className = "alert alert-error";
    alert.textContent = message;
    region.replaceChildren(alert);
  }

  async function refreshDeliveries() {
    const current = document.querySelector("[data-recent-deliveries]");
    const response = await fetch(window.location.pathname, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector("[data-recent-deliveries]");
    if (current && fresh) {
      current.replaceWith(document.adoptNode(fresh));
    }
  }

  // Test events: sent with fetch, the result shown in place.
  function setUpTestEvent() {
    const testForm = document.querySelector("[data-test-event-form]");
    if (!testForm) {
      return;
    }
    const section = testForm.closest("section");
    const region = section.querySelector("[data-test-result]");
    const template = section.querySelector("[data-test-result-template]");
    const button = testForm.querySelector("[data-test-event-button]");
    testForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      const label = button.textContent;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.textContent = button.dataset.sendingLabel;
      try {
        const response = await fetch(testForm.action, {
          method: "POST",
          body: new FormData(testForm),
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        const result = await response.json();
        if (response.ok) {
          renderTestResult(region, template, result);
        } else {
          renderTestError(region, result.error);
        }
        await refreshDeliveries();
      } catch (error) {
        renderTestError(region, document.body.dataset.failedText);
      } finally {
        button.disabled = false;
        button.removeAttribute("aria-busy");
        button.textContent = label;
      }
    });
  }

  const settingsForm = document.querySelector("[data-settings-form]");
  if (settingsForm) {
    setUpEnabledToggle(settingsForm);
    setUpHeaders(settingsForm);
    setUpAuthKinds(settingsForm);
  }
  setUpCollapsibles();
  setUpReveals();
  setUpCopies();
  setUpConfirms();
  setUpTestEvent();

  const summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
  }
})();
