// Which camera is on the other end of a mutual-TLS connection, read from the
// certificate the camera CA issued to it.
//
// A subjectAltName URI "camera:<id>" wins (it is unambiguous and survives
// subject-format changes); otherwise the subject's single commonName is used.
// An id is 1..128 characters of [A-Za-z0-9._-] (no leading dot), which keeps it safe as an
// object-store path component and a log field.
//
//   ASSIGN_OR_RETURN(std::string camera_id,
//                    CameraIdFromCertificate(tls->peer_certificate()));
#ifndef SERVER_TLS_CAMERA_IDENTITY_H_
#define SERVER_TLS_CAMERA_IDENTITY_H_

#include <string>
#include <string_view>

#include <openssl/x509.h>

#include "absl/status/statusor.h"

#include "proto/frame_decoder.h"

namespace ingest {

// The camera-id rule is the protocol's (proto/frame_decoder.h).
using camproto::IsValidCameraId;

// The camera id carried by `cert`. PermissionDenied when the certificate
// names no valid id: a null certificate, a "camera:" URI with a bad id, two
// different "camera:" URIs, no URI and no (or more than one) commonName, or a
// commonName that is not a valid id.
absl::StatusOr<std::string> CameraIdFromCertificate(X509* cert);

}  // namespace ingest

#endif  // SERVER_TLS_CAMERA_IDENTITY_H_
