// The journal MESSAGE_IDs of crashcaptured's entries, as systemd's catalog
// uses them: fixed forever, so that `journalctl MESSAGE_ID=...` finds every
// capture report on every machine (crashcaptured(8), JOURNAL). One place.
#pragma once

namespace crashcapture {

// A capture reported after the reboot: complete, failed, or lost.
inline constexpr const char* kMessageIdCapture = "c2a1f0e4b6d94f3a8e5b7c9d1f203a41";
// The manager's State changed (armed, failed, unavailable...).
inline constexpr const char* kMessageIdStateChanged = "5e8d3b0a9c7f4e21b4d6a8c0e2f41357";
// The reservation is too small for the capture kernel and initrd.
inline constexpr const char* kMessageIdReservation = "8b1e4c27d9a34f6e9c0d5a7b3e2f1d68";
// The previous crashcaptured of this boot stopped without an orderly stop
// (PreviousRun).
inline constexpr const char* kMessageIdPreviousRun = "3f7a9d2c5e1b4c80a6d4e8f2b0c93d15";

}  // namespace crashcapture
