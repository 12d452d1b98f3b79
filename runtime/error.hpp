// keel's error codes. Runtime failures travel as caf::error in the `keel`
// category (see make_error); a code exists only when some caller reacts to it
// differently from the others.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace keel {

/// The error category atom registered with the actor system.
constexpr caf::atom_value error_category = caf::atom("keel");

enum class error_code : uint8_t {
  none = 0,
  /// A bounded buffer is full. Nothing was accepted; retry later.
  overloaded,
  /// The message carries an older epoch than the receiver's: the sender was
  /// fenced by a failover. It must not retry with the same epoch.
  stale_epoch,
  /// The receiver is not (yet) the active copy of the partition. The event is
  /// kept by the distributor and replayed when the route changes.
  not_active,
  /// The event names an application that is not configured.
  unknown_app,
  /// The event itself is malformed (empty key, ...).
  invalid_event,
  /// The application's handler rejected the event; the rejection is final
  /// and deduplicated like any reply.
  app_rejected,
  /// No copy can serve the request now (node down, shutdown in progress).
  unavailable,
  /// A configuration or scenario file is invalid; the context names the path.
  invalid_config,
  /// A cluster peer or admin client did not prove it knows the cluster
  /// secret; nothing it asked for was done.
  unauthorized,
  /// A cluster peer or admin client runs another wire protocol (another
  /// keel build: message layouts differ); nothing it asked for was done.
  incompatible,
};

std::string to_string(error_code x);

/// Makes a caf::error in keel's category, with a human-readable context.
caf::error make_error(error_code code, std::string context = {});

/// Returns the keel code carried by `err`, or `none` for other categories.
error_code code_of(const caf::error& err);

/// The human-readable context of `err` (empty if none).
std::string context_of(const caf::error& err);

/// Renders any error as one line (keel's, CAF's own, or unknown).
std::string render(const caf::error& err);

} // namespace keel
