// The one header Swift sees for libusb. pkg-config puts libusb-1.0's include directory on the path.
#include <libusb.h>
