#include "capture-manager.hpp"

namespace crashcapture {

ArmingAction decide_arming(const ArmingFacts& facts) {
    const bool current =
        facts.initrd_override || (!facts.force && facts.have_previous_manifest &&
                                  facts.initrd_exists && facts.changed_inputs.empty());
    if (!current) {
        return facts.initrd_exists && facts.reserved && !facts.loaded
                   ? ArmingAction::load_previous_then_build
                   : ArmingAction::build;
    }
    if (!facts.reserved) {
        return ArmingAction::wait_for_reservation;
    }
    // Initrd= is loaded every time it is asked for: the file may have
    // changed under the same name, and nothing hashes it.
    if (facts.loaded && !facts.initrd_override) {
        return ArmingAction::keep;
    }
    return ArmingAction::load;
}

bool BuildQueue::request(bool force) {
    if (running_) {
        again_ = true;
        force_next_ = force_next_ || force;
        return false;
    }
    return true;
}

void BuildQueue::started() {
    running_ = true;
}

std::optional<bool> BuildQueue::finished() {
    running_ = false;
    if (!again_) {
        return std::nullopt;
    }
    const bool force = force_next_;
    again_ = false;
    force_next_ = false;
    return force;
}

Status CaptureLoader::load(const CaptureImage& image) {
    auto loaded = kexec_.load_crash_kernel(image.kernel, image.initrd, image.command_line);
    if (loaded) {
        last_good_ = image;
        return {};
    }
    std::string message = loaded.error().message;
    if (last_good_ && kexec_.load_crash_kernel(last_good_->kernel, last_good_->initrd,
                                               last_good_->command_line)) {
        message += "; the previous capture kernel was loaded again";
    }
    return make_error(loaded.error().errno_value, "{}", message);
}

}  // namespace crashcapture
