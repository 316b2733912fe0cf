// Internal to tabby_model: the field names of the types all kinds share, written once and used by
// the decoder, the encoder and the validator's generic checks. Each kind's header
// (model/kinds/<kind>.h) describes its own spec the same way.
//
// A visitor V has
//   Field(key, member)           optional field; the encoder omits it when empty/zero/false
//   Field(key, member, Codec{})  same with a custom value codec
//   Required(key, member)        must be present on input; always written
//   Object(key, describe)        a nested object that has no struct of its own
// T is the struct, or the const struct when encoding.
#pragma once

#include <type_traits>

#include "model/types.h"

namespace tabby::model::internal {

template <typename T, typename U>
concept Is = std::is_same_v<std::remove_const_t<T>, U>;

// An AS number: an integer, or a string in plain ("64512") or asdot ("1.10") notation.
struct AsNumberCodec {};
// Optional on input, but always written, even when empty (Kubernetes' `podSelector: {}`).
struct AlwaysWrittenCodec {};

template <typename V, Is<ObjectMeta> T>
void Describe(V& v, T& m) {
  v.Field("name", m.name);
  v.Field("namespace", m.namespace_name);
  v.Field("labels", m.labels);
  v.Field("annotations", m.annotations);
  v.Field("resourceVersion", m.resource_version);
  v.Field("uid", m.uid);
  v.Field("creationTimestamp", m.creation_timestamp);
}

template <typename V, Is<IcmpMatch> T>
void Describe(V& v, T& m) {
  v.Field("type", m.type);
  v.Field("code", m.code);
}

template <typename V, Is<EntityRule> T>
void Describe(V& v, T& e) {
  v.Field("nets", e.nets);
  v.Field("notNets", e.not_nets);
  v.Field("selector", e.selector);
  v.Field("notSelector", e.not_selector);
  v.Field("namespaceSelector", e.namespace_selector);
  v.Field("ports", e.ports);
  v.Field("notPorts", e.not_ports);
}

template <typename V, Is<Rule> T>
void Describe(V& v, T& r) {
  v.Required("action", r.action);
  v.Field("ipVersion", r.ip_version);
  v.Field("protocol", r.protocol);
  v.Field("notProtocol", r.not_protocol);
  v.Field("icmp", r.icmp);
  v.Field("notICMP", r.not_icmp);
  v.Field("source", r.source);
  v.Field("destination", r.destination);
  v.Object("metadata", [&](auto& m) { m.Field("annotations", r.metadata_annotations); });
}

template <typename V, Is<ProtoPort> T>
void Describe(V& v, T& p) {
  v.Field("protocol", p.protocol);
  v.Required("port", p.port);
}

template <typename V, Is<LabelSelectorRequirement> T>
void Describe(V& v, T& r) {
  v.Required("key", r.key);
  v.Required("operator", r.op);
  v.Field("values", r.values);
}

template <typename V, Is<LabelSelector> T>
void Describe(V& v, T& s) {
  v.Field("matchLabels", s.match_labels);
  v.Field("matchExpressions", s.match_expressions);
}

}  // namespace tabby::model::internal
