#include "common/build_info.h"

namespace ingest {

const char* BuildVersion() { return INGEST_VERSION; }
const char* BuildCommit() { return INGEST_BUILD_COMMIT; }

}  // namespace ingest
