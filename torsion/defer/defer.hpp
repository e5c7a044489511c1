// Everything of torsion::defer in one include.
#pragma once

#include "torsion/defer/combinators.hpp"  // IWYU pragma: export
#include "torsion/defer/cooperator.hpp"   // IWYU pragma: export
#include "torsion/defer/deferred.hpp"     // IWYU pragma: export
#include "torsion/defer/errors.hpp"       // IWYU pragma: export
#include "torsion/defer/failure.hpp"      // IWYU pragma: export
#include "torsion/defer/lock.hpp"         // IWYU pragma: export
#include "torsion/defer/queue.hpp"        // IWYU pragma: export
#include "torsion/defer/result.hpp"       // IWYU pragma: export
#include "torsion/defer/task.hpp"         // IWYU pragma: export
