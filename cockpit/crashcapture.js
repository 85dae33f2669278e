/*
 * Kernel crash capture: crashcaptured's state and dumps, in Cockpit.
 *
 * Everything comes from the daemon's D-Bus API, org.crashcapture1 on the
 * system bus (dbus/org.crashcapture1.Manager.xml is its source of truth):
 * the Manager's properties (kept current by PropertiesChanged), ListDumps,
 * GetDump, GetDumpLog, RemoveDump, Reload, Rebuild, EstimateReservation,
 * SetReservation, TestCapture and the DumpCaptured signal. The page never reads crashcaptured's files and
 * never runs crashcapturectl.
 *
 * Who may do what is the daemon's decision: it answers
 * org.freedesktop.DBus.Error.AccessDenied to a caller that is not root. The
 * page asks once (GetDumpLog of no dump: the root check comes first) and
 * disables what the session may not use, with the daemon's reason.
 */
"use strict";

(function () {
    const _ = cockpit.gettext;
    const BUS_NAME = "org.crashcapture1";
    const PATH = "/org/crashcapture1";
    const IFACE = "org.crashcapture1.Manager";
    const ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied";

    let client = null;
    let manager = null;
    let dumps = [];
    let fresh = new Set(); // ids reported by DumpCaptured while the page is open
    let denied = null; // null: allowed (or not known yet); else the daemon's reason
    let running = null; // the daemon's unique name, null when it is not on the bus
    let busy = null; // "reload" or "rebuild" while one is in flight
    let estimate = null; // [bytes, explanation] of EstimateReservation, or {error}
    let setting = false; // a SetReservation is in flight
    let reservation_set = null; // SetReservation's answer (crashcapturectl setup's JSON)

    // ---- small DOM helpers ----
    function el(tag, attrs, ...children) {
        const node = document.createElement(tag);
        for (const [key, value] of Object.entries(attrs || {})) {
            if (value === undefined || value === null || value === false)
                continue;
            if (key === "class")
                node.className = value;
            else if (key.startsWith("on"))
                node.addEventListener(key.substring(2), value);
            else
                node.setAttribute(key, value === true ? "" : value);
        }
        for (const child of children.flat()) {
            if (child === undefined || child === null || child === false)
                continue;
            node.append(typeof child === "string" ? document.createTextNode(child) : child);
        }
        return node;
    }

    function replace(id, ...children) {
        const node = document.getElementById(id);
        node.replaceChildren(...children.flat().filter(c => c));
    }

    const ICONS = {
        danger: "M8 0a8 8 0 1 0 0 16A8 8 0 0 0 8 0zm-.9 3.5h1.8v6H7.1zm0 7.5h1.8v1.8H7.1z",
        warning: "M8 .8 0 15h16zm-.9 4.7h1.8v5H7.1zm0 6.3h1.8v1.7H7.1z",
        info: "M8 0a8 8 0 1 0 0 16A8 8 0 0 0 8 0zm-.9 3.2h1.8V5H7.1zm0 3h1.8v6.6H7.1z",
        success: "M8 0a8 8 0 1 0 0 16A8 8 0 0 0 8 0zM6.9 11.8 3.4 8.3l1.2-1.2 2.3 2.3 4.5-4.5 1.2 1.2z",
    };

    function icon(kind) {
        const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        svg.setAttribute("viewBox", "0 0 16 16");
        svg.setAttribute("width", "1em");
        svg.setAttribute("height", "1em");
        svg.setAttribute("fill", "currentColor");
        svg.setAttribute("aria-hidden", "true");
        const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
        path.setAttribute("d", ICONS[kind] || ICONS.info);
        svg.append(path);
        return svg;
    }

    // An inline PatternFly alert: kind danger, warning, info or success.
    function alert(kind, title, description, extra) {
        return el("div", { class: `pf-c-alert pf-m-inline pf-m-${kind}`, "aria-label": title },
                  el("div", { class: "pf-c-alert__icon" }, icon(kind)),
                  el("p", { class: "pf-c-alert__title" }, title),
                  description ? el("div", { class: "pf-c-alert__description" }, description) : null,
                  extra ? el("div", { class: "pf-c-alert__action" }, extra) : null);
    }

    // A daemon error, as an alert at the top of the page until closed.
    function show_error(title, error) {
        const message = (error && (error.message || error.problem)) || String(error);
        let node = null;
        const close = el("button", {
            class: "pf-c-button pf-m-plain",
            type: "button",
            "aria-label": _("Close"),
            onclick: () => node.remove()
        }, "\u00d7");
        node = el("div", { class: "pf-c-alert-group__item" }, alert("danger", title, message, close));
        node.dataset.error = message;
        document.getElementById("alerts").append(node);
    }

    // PatternFly 4's spinner: the clipper and the two balls draw it.
    function spinner(size, extra_class) {
        return el("span", { class: `pf-c-spinner pf-m-${size} ${extra_class || ""}`, role: "progressbar", "aria-valuetext": _("Loading…") },
                  el("span", { class: "pf-c-spinner__clipper" }),
                  el("span", { class: "pf-c-spinner__lead-ball" }),
                  el("span", { class: "pf-c-spinner__tail-ball" }));
    }

    function label(text, color) {
        return el("span", { class: `pf-c-label pf-m-${color}` },
                  el("span", { class: "pf-c-label__content" }, text));
    }

    function description_list(rows, extra_class) {
        return el("dl", { class: "pf-c-description-list pf-m-horizontal " + (extra_class || "") },
                  rows.filter(r => r).map(([term, value, id]) =>
                      el("div", { class: "pf-c-description-list__group", "data-field": id },
                         el("dt", { class: "pf-c-description-list__term" },
                            el("span", { class: "pf-c-description-list__text" }, term)),
                         el("dd", { class: "pf-c-description-list__description" },
                            el("div", { class: "pf-c-description-list__text" }, value)))));
    }

    function format_time_usec(usec) {
        return usec ? new Date(Number(usec) / 1000).toLocaleString() : _("never");
    }

    function format_time_sec(sec) {
        return sec ? new Date(Number(sec) * 1000).toLocaleString() : _("unknown");
    }

    function mib(bytes) {
        return Math.ceil(Number(bytes) / (1024 * 1024));
    }

    function is_denied(error) {
        return error && error.name === ACCESS_DENIED;
    }

    function remember_denied(error) {
        denied = error.message || _("Access denied");
        render_all();
    }

    // ---- state ----
    const STATES = {
        unavailable: [_("No memory reserved"), "red"],
        idle: [_("Not loaded"), "grey"],
        building: [_("Building the capture initrd"), "blue"],
        loading: [_("Loading"), "blue"],
        loaded: [_("Armed"), "green"],
        failed: [_("Failed"), "red"],
    };

    function render_state() {
        if (!running) {
            replace("state-body", alert("danger", _("crashcaptured is not running"),
                                        _("Start it with \"systemctl enable --now crashcaptured\".")));
            return;
        }
        if (!manager || !manager.valid) {
            replace("state-body", spinner("lg"));
            return;
        }
        const state = manager.State;
        const [text, color] = STATES[state] || [state, "grey"];
        const progress = state === "building" || state === "loading";
        const state_node = el("span", { id: "state", "data-state": state }, label(text, color),
                              progress ? spinner("md", "crashcapture-inline-spinner") : null);
        const notes = [];
        if (manager.ReservationWarning)
            notes.push(alert("warning", _("The reservation is too small"), manager.ReservationWarning));
        if (manager.LastError && manager.LastError !== manager.ReservationWarning)
            notes.push(alert(state === "loaded" ? "warning" : "danger", _("Last error"), manager.LastError));
        // What the last crashcaptured of this boot was doing when it was
        // killed, and what this one cleared up (lib/records/daemon-run.hpp).
        if (manager.PreviousRun)
            notes.push(alert("info", _("crashcaptured was restarted after it stopped unexpectedly"),
                             manager.PreviousRun));
        replace("state-body",
                description_list([
                    [_("State"), state_node, "state"],
                    [_("Capture kernel"), el("code", {}, manager.CaptureKernel || _("none")), "kernel"],
                    [_("Capture initrd"), el("code", {}, manager.CaptureInitrd || _("none")), "initrd"],
                    [_("Loaded"), format_time_usec(manager.LoadedTimestamp), "loaded"],
                    [_("Command line"), el("code", {}, manager.CommandLine || ""), "cmdline"],
                    [_("Target"), el("code", { id: "target" }, manager.Target || ""), "target"],
                    [_("Dump level"), String(manager.DumpLevel), "dumplevel"],
                ]),
                notes.length ? el("div", { class: "crashcapture-notes", id: "state-notes" }, notes) : null);
        document.getElementById("version").textContent =
            manager.Version ? cockpit.format(_("crashcaptured $0"), manager.Version) : "";
        render_actions();
    }

    function render_actions() {
        for (const id of ["reload", "rebuild"]) {
            const button = document.getElementById(id);
            const off = !running || denied !== null || busy !== null;
            button.disabled = off;
            button.classList.toggle("pf-m-disabled", off);
            button.classList.toggle("pf-m-in-progress", busy === id);
            button.title = denied !== null ? denied : "";
        }
        // A crash that nothing captures tests nothing: only when armed (the
        // daemon refuses it otherwise too).
        const test = document.getElementById("test-capture");
        let why_not = null;
        if (!running)
            why_not = _("crashcaptured is not running");
        else if (denied !== null)
            why_not = denied;
        else if (!manager || !manager.valid || manager.State !== "loaded")
            why_not = _("The capture kernel is not loaded: a crash now would not be captured");
        test.disabled = why_not !== null || busy !== null;
        test.classList.toggle("pf-m-disabled", test.disabled);
        test.title = why_not || _("Crash this machine now and capture the dump");
    }

    function run_action(method) {
        busy = method.toLowerCase();
        render_actions();
        client.call(PATH, IFACE, method, [])
                .catch(error => {
                    if (is_denied(error))
                        remember_denied(error);
                    show_error(cockpit.format(_("$0 failed"), method), error);
                })
                .finally(() => {
                    busy = null;
                    render_actions();
                    load_estimate();
                });
    }

    // ---- reservation ----
    function load_estimate() {
        if (!running)
            return;
        client.call(PATH, IFACE, "EstimateReservation", [])
                .then(([bytes, json]) => {
                    estimate = { bytes, explanation: JSON.parse(json) };
                })
                .catch(error => {
                    estimate = { error: error.message || String(error) };
                })
                .finally(render_reservation);
    }

    function render_reservation() {
        if (!running) {
            replace("reservation-body", el("p", { class: "crashcapture-help" }, _("Asked of crashcaptured when it runs.")));
            return;
        }
        if (!estimate) {
            replace("reservation-body", spinner("lg"));
            return;
        }
        if (estimate.error) {
            replace("reservation-body", alert("danger", _("The size could not be estimated"), estimate.error));
            return;
        }
        const x = estimate.explanation;
        const reserved = Number(x.reserved_bytes || (manager && manager.ReservedBytes) || 0);
        const wanted = "crashkernel=" + mib(estimate.bytes) + "M";
        const fits = x.fits === true;
        const wanted_mib = mib(estimate.bytes);
        const set_button = el("button", {
            class: "pf-c-button " + (fits ? "pf-m-secondary" : "pf-m-primary") + (setting ? " pf-m-in-progress pf-m-progress" : ""),
            type: "button",
            id: "set-reservation",
            disabled: denied !== null || setting,
            title: denied !== null ? denied : cockpit.format(_("Set $0 for the next boot"), wanted),
            onclick: () => confirm_set_reservation(wanted_mib)
        }, setting ? spinner("md", "crashcapture-inline-spinner") : null, cockpit.format(_("Set $0…"), wanted));
        const applied = reservation_set
            ? alert("success", cockpit.format(_("$0 is set for the next boot"), reservation_set.recommended),
                    cockpit.format(_("Reboot for it to take effect ($0)."), reservation_set.mechanism))
            : null;
        if (applied)
            applied.id = "reservation-applied";
        replace("reservation-body",
                description_list([
                    [_("Reserved"), reserved ? cockpit.format_bytes(reserved, 1024) : _("nothing"), "reserved"],
                    [_("Needed"), x.needed_bytes ? cockpit.format_bytes(x.needed_bytes, 1024) : _("unknown"), "needed"],
                    [_("Fits"), fits ? label(_("yes"), "green") : label(_("no"), "red"), "fits"],
                    [_("Boot parameter"), el("code", { id: "crashkernel" }, wanted), "crashkernel"],
                ]),
                el("p", { class: "crashcapture-help" },
                   fits
                       ? _("The reservation holds this capture kernel and initrd.")
                       : cockpit.format(_("Set $0 on the kernel command line and reboot: the button does it through GRUB, as \"crashcapturectl setup --apply\" does."), wanted)),
                applied,
                el("div", { class: "crashcapture-card-actions" }, set_button));
    }

    function confirm_set_reservation(size_mib) {
        let close = null;
        const wanted = "crashkernel=" + size_mib + "M";
        const set = el("button", {
            class: "pf-c-button pf-m-primary",
            type: "button",
            id: "confirm-reservation",
            onclick: () => {
                close();
                setting = true;
                render_reservation();
                client.call(PATH, IFACE, "SetReservation", [size_mib])
                        .then(([json]) => {
                            reservation_set = JSON.parse(json);
                        })
                        .catch(error => {
                            if (is_denied(error))
                                remember_denied(error);
                            show_error(cockpit.format(_("$0 could not be set"), wanted), error);
                        })
                        .finally(() => {
                            setting = false;
                            render_reservation();
                        });
            }
        }, _("Set"));
        const cancel = el("button", { class: "pf-c-button pf-m-link", type: "button", onclick: () => close() }, _("Cancel"));
        close = modal(cockpit.format(_("Set $0 for the next boot?"), wanted),
                      [el("p", {}, cockpit.format(_("crashcaptured adds $0 to the kernel command line of every boot entry: a GRUB setting (/etc/default/grub.d/crashcapture.cfg) and update-grub, or grubby where the system uses it."), wanted)),
                          el("p", {}, _("The memory is reserved from the next boot on; until you reboot, the capture uses the reservation it has now."))],
                      [set, cancel], "pf-m-sm");
        set.focus();
    }

    // ---- dumps ----
    const RESULTS = {
        complete: [_("complete"), "green"],
        incomplete: [_("incomplete"), "orange"],
        failed: [_("failed"), "red"],
        lost: [_("lost"), "purple"],
    };

    // The crash signature (README, "Crash signatures") names the crash best;
    // dumps of daemons without it fall back to the panic line.
    function panic_of(dump) {
        const record = dump.record || {};
        if (dump.signature)
            return dump.signature;
        if (record.panic_line)
            return record.panic_line;
        if (dump.panic_line)
            return dump.panic_line;
        if (record.error)
            return record.error;
        if (dump.record_error)
            return dump.record_error;
        return "";
    }

    function kernel_of(dump) {
        return (dump.record && dump.record.kernel_release) || (dump.lost && dump.lost.kernel_release) || "";
    }

    function location_of(dump) {
        if (dump.result === "lost")
            return _("not captured");
        return (dump.record && dump.record.remote_dump) || dump.path || "";
    }

    function time_of(dump) {
        if (dump.crash_time)
            return dump.crash_time;
        return (dump.lost && dump.lost.last_seen) || 0;
    }

    function load_dumps() {
        if (!running)
            return Promise.resolve();
        return client.call(PATH, IFACE, "ListDumps", [])
                .then(([json]) => {
                    dumps = JSON.parse(json);
                    render_dumps();
                })
                .catch(error => show_error(_("The dumps could not be listed"), error));
    }

    function remove_reason() {
        return denied !== null ? denied : null;
    }

    function render_dumps() {
        if (!running) {
            replace("dumps-body", el("p", { class: "crashcapture-help" }, _("Listed by crashcaptured when it runs.")));
            return;
        }
        if (dumps.length === 0) {
            replace("dumps-body",
                    el("div", { class: "pf-c-empty-state pf-m-sm", id: "no-dumps" },
                       el("div", { class: "pf-c-empty-state__content" },
                          el("h3", { class: "pf-c-title pf-m-md" }, _("No dumps")),
                          el("div", { class: "pf-c-empty-state__body" },
                             _("When the kernel crashes, the capture kernel saves its memory here.")))));
            return;
        }
        const sorted = dumps.slice().sort((a, b) => time_of(b) - time_of(a));
        const reason = remove_reason();
        const header = el("thead", {},
                          el("tr", { role: "row" },
                             [_("Time"), _("Kernel"), _("Result"), _("Panic"), _("Size"), _("Location"), ""].map(h =>
                                 el("th", { role: "columnheader", scope: "col" }, h))));
        const rows = sorted.map(dump => {
            const [text, color] = RESULTS[dump.result] || [dump.result, "grey"];
            const remove = el("button", {
                class: "pf-c-button pf-m-link pf-m-danger" + (reason ? " pf-m-disabled" : ""),
                type: "button",
                "data-action": "remove",
                disabled: reason !== null,
                title: reason || _("Remove this dump"),
                onclick: () => confirm_remove(dump)
            }, _("Remove"));
            const details = el("button", {
                class: "pf-c-button pf-m-link",
                type: "button",
                "data-action": "details",
                onclick: () => show_details(dump.id)
            }, _("Details"));
            return el("tr", { role: "row", "data-id": dump.id, class: fresh.has(dump.id) ? "crashcapture-new" : "" },
                      el("td", { "data-label": _("Time") }, format_time_sec(time_of(dump))),
                      el("td", { "data-label": _("Kernel") }, kernel_of(dump)),
                      el("td", { "data-label": _("Result"), "data-result": dump.result }, label(text, color)),
                      el("td", { "data-label": _("Panic"), class: "crashcapture-panic" }, panic_of(dump)),
                      el("td", { "data-label": _("Size") }, dump.disk_bytes ? cockpit.format_bytes(dump.disk_bytes, 1024) : ""),
                      el("td", { "data-label": _("Location"), class: "crashcapture-location" }, location_of(dump)),
                      el("td", { class: "pf-c-table__action" }, el("div", { class: "crashcapture-row-actions" }, details, remove)));
        });
        const table = el("table", { class: "pf-c-table pf-m-grid-md pf-m-compact", role: "grid", id: "dumps", "aria-label": _("Dumps") },
                         header, el("tbody", { role: "rowgroup" }, rows));
        replace("dumps-body", table);
    }

    // ---- dialogs ----
    function modal(title, body, footer, variant) {
        const previous = document.activeElement;
        const node = el("div", { class: "pf-c-backdrop" },
                        el("div", { class: "pf-l-bullseye" },
                           el("div", { class: "pf-c-modal-box " + (variant || "pf-m-sm"), role: "dialog", "aria-modal": "true", "aria-label": title },
                              el("header", { class: "pf-c-modal-box__header" },
                                 el("h1", { class: "pf-c-modal-box__title" }, title)),
                              el("div", { class: "pf-c-modal-box__body" }, body),
                              el("footer", { class: "pf-c-modal-box__footer" }, footer))));
        const close = () => {
            node.remove();
            if (previous)
                previous.focus();
        };
        node.addEventListener("keydown", event => {
            if (event.key === "Escape")
                close();
        });
        document.getElementById("dialogs").append(node);
        return close;
    }

    function confirm_remove(dump) {
        let close = null;
        const remove = el("button", {
            class: "pf-c-button pf-m-danger",
            type: "button",
            id: "confirm-remove",
            onclick: () => {
                remove.disabled = true;
                client.call(PATH, IFACE, "RemoveDump", [dump.id])
                        .then(() => load_dumps())
                        .catch(error => {
                            if (is_denied(error))
                                remember_denied(error);
                            show_error(cockpit.format(_("$0 could not be removed"), dump.id), error);
                        })
                        .finally(() => close());
            }
        }, _("Remove"));
        const cancel = el("button", { class: "pf-c-button pf-m-link", type: "button", onclick: () => close() }, _("Cancel"));
        const what = dump.result === "lost"
            ? _("The record of this lost capture is forgotten.")
            : cockpit.format(_("The dump directory $0 is deleted with the dump and its kernel log. This cannot be undone."), dump.path);
        close = modal(cockpit.format(_("Remove $0?"), dump.id), el("p", {}, what), [remove, cancel], "pf-m-sm");
        remove.focus();
    }

    function confirm_test_capture() {
        let close = null;
        const crash = el("button", {
            class: "pf-c-button pf-m-danger",
            type: "button",
            id: "confirm-test",
            onclick: () => {
                crash.disabled = true;
                client.call(PATH, IFACE, "TestCapture", [])
                        .then(() => {
                            const node = el("div", { class: "pf-c-alert-group__item", id: "test-started" },
                                            alert("info", _("The machine crashes now"),
                                                  _("The capture kernel saves the dump, then the machine reboots. The dump is listed here once it is back.")));
                            document.getElementById("alerts").append(node);
                        })
                        .catch(error => {
                            if (is_denied(error))
                                remember_denied(error);
                            show_error(_("The capture could not be tested"), error);
                        })
                        .finally(() => close());
            }
        }, _("Crash the machine"));
        const cancel = el("button", { class: "pf-c-button pf-m-link", type: "button", id: "cancel-test", onclick: () => close() }, _("Cancel"));
        close = modal(_("Crash this machine now?"),
                      [el("p", {}, el("strong", {}, _("This crashes the kernel of this machine at once (sysrq-c), to test the capture."))),
                          el("p", {}, _("Everything running on it stops without shutting down: work not saved is lost, and its services are down until it is back. The capture kernel saves the dump, then the machine reboots.")),
                          el("p", {}, _("Do this only on a machine you may take down now."))],
                      [crash, cancel], "pf-m-sm");
        cancel.focus();
    }

    function show_details(id) {
        const log = el("pre", { class: "crashcapture-log", id: "dump-log" }, _("Loading…"));
        const record = el("pre", { class: "crashcapture-log", id: "dump-record" }, _("Loading…"));
        let close = null;
        const ok = el("button", { class: "pf-c-button pf-m-primary", type: "button", onclick: () => close() }, _("Close"));
        close = modal(id, [el("h2", { class: "pf-c-title pf-m-md" }, _("Record")), record,
            el("h2", { class: "pf-c-title pf-m-md" }, _("Kernel log")), log], [ok], "pf-m-lg");
        client.call(PATH, IFACE, "GetDump", [id])
                .then(([json]) => {
                    record.textContent = JSON.stringify(JSON.parse(json), null, 2);
                })
                .catch(error => {
                    record.textContent = error.message;
                });
        if (denied !== null) {
            log.replaceWith(alert("info", _("The kernel log needs administrative access"), denied));
            return;
        }
        client.call(PATH, IFACE, "GetDumpLog", [id])
                .then(([text]) => {
                    log.textContent = text || _("(empty)");
                })
                .catch(error => {
                    if (is_denied(error))
                        remember_denied(error);
                    log.replaceWith(alert(is_denied(error) ? "info" : "danger", _("The kernel log could not be read"), error.message));
                });
    }

    // ---- wiring ----
    function render_access() {
        replace("access", denied !== null
            ? alert("info", _("Reload, Rebuild, setting the reservation, testing the capture, removing dumps and reading their kernel logs need administrative access"),
                    cockpit.format(_("crashcaptured answered: $0"), denied))
            : null);
    }

    function render_all() {
        render_access();
        render_actions();
        render_state();
        render_reservation();
        render_dumps();
    }

    // Whether this session may use the root-only methods: the daemon's
    // answer to GetDumpLog of an id no dump has (it checks the caller first).
    function probe_access() {
        return client.call(PATH, IFACE, "GetDumpLog", [""])
                .then(() => { denied = null })
                .catch(error => {
                    denied = is_denied(error) ? (error.message || _("Access denied")) : null;
                });
    }

    function daemon_appeared() {
        manager = client.proxy(IFACE, PATH);
        manager.addEventListener("changed", () => {
            render_state();
            if (manager.State === "loaded" || manager.State === "unavailable")
                load_estimate();
        });
        manager.wait(() => {
            render_state();
            probe_access().then(() => {
                render_all();
                load_estimate();
                load_dumps();
            });
        });
    }

    function init() {
        cockpit.translate();
        client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });
        client.addEventListener("owner", (event, owner) => {
            const was = running;
            running = owner || null;
            if (running && running !== was)
                daemon_appeared();
            render_all();
        });
        client.addEventListener("close", (event, options) => {
            if (options && options.problem)
                show_error(_("The connection to the system bus closed"), options);
        });
        client.subscribe({ path: PATH, interface: IFACE, member: "DumpCaptured" }, (path, iface, signal, args) => {
            fresh.add(args[0]);
            load_dumps();
        });
        document.getElementById("reload").addEventListener("click", () => run_action("Reload"));
        document.getElementById("rebuild").addEventListener("click", () => run_action("Rebuild"));
        document.getElementById("test-capture").addEventListener("click", () => confirm_test_capture());
        render_all();
        document.body.dataset.ready = "yes";
    }

    document.addEventListener("DOMContentLoaded", init);
}());
