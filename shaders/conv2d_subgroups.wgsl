// Subgroup switch of the regblock kernel files, included first (an `enable` precedes every
// declaration). SG: the build that broadcasts values across the 4 lanes of a row group with
// subgroup operations; a module naming subgroup builtins cannot even be created on a device
// without the feature, so the other build names none.
#define SG: bool
#if SG
enable subgroups;
#endif

// A weight shared by the 4 output rows of a row group: with subgroups, lane l loaded the weight of
// row (l & 3) and the four values are broadcast; without, each lane loads all four.
fn bc4(v: f32) -> vec4f {
#if SG
  return vec4f(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
#else
  return vec4f(v);
#endif
}
