// org.crashcapture1.Manager on the bus: the generated adaptor, implemented
// by forwarding to the Manager. Every handler catches everything (sdbus-c++
// 1.2 only turns sdbus::Error into a D-Bus error; anything else would escape
// into C), and every change needs root, checked on the caller's credentials.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <functional>

#include "admin-actions.hpp"
#include "manager-adaptor.h"
#include "manager.hpp"

namespace crashcapture {

class DbusService final : public sdbus::AdaptorInterfaces<org::crashcapture1::Manager_adaptor>,
                          public ManagerObserver {
  public:
    DbusService(sdbus::IConnection& connection, Manager*& manager);
    ~DbusService();
    // SetReservation and TestCapture; they answer "starting" until set.
    void set_admin_actions(AdminActions* actions) { admin_actions_ = actions; }
    // Runs after every change of state and of the dumps (the metrics file).
    void set_change_hook(std::function<void()> hook) { change_hook_ = std::move(hook); }

    // ManagerObserver
    void properties_changed() override;
    void dump_captured(const std::string& id, const std::string& result,
                       const nlohmann::json& record) override;
    void log(int priority, const std::string& message,
             const std::vector<std::pair<std::string, std::string>>& fields = {}) override;

  private:
    void Reload() override;
    void Rebuild() override;
    void Unload() override;
    std::string ListDumps() override;
    std::string GetDump(const std::string& id) override;
    std::string GetDumpLog(const std::string& id) override;
    void RemoveDump(const std::string& id) override;
    std::vector<std::string> ApplyRetention() override;
    std::tuple<uint64_t, std::string> EstimateReservation() override;
    void SetReservation(sdbus::Result<std::string>&& result, uint64_t size_mib) override;
    void TestCapture() override;

    std::string State() override;
    std::string LastError() override;
    std::string ReservationWarning() override;
    std::string PreviousRun() override;
    std::string CaptureKernel() override;
    std::string CaptureInitrd() override;
    std::string CommandLine() override;
    uint64_t ReservedBytes() override;
    std::string Target() override;
    uint32_t DumpLevel() override;
    uint64_t LoadedTimestamp() override;
    std::string Version() override;

    // The caller's uid, after checking it is root.
    uid_t require_root(const char* action);
    Manager& manager();
    AdminActions& admin_actions();

    Manager*& manager_;
    AdminActions* admin_actions_ = nullptr;
    std::function<void()> change_hook_;
    void notify_change();
    ManagerProperties last_emitted_;
    bool emitted_once_ = false;
};

}  // namespace crashcapture
