// Random (version 4) UUIDs: resource uids and the cluster identity.
#pragma once

#include <string>

namespace tabby {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" from std::random_device.
std::string RandomUuid();

}  // namespace tabby
