# scripts/offline-prefix.cmake: CMake settings for a build against the offline prefix (Debian
# .debs unpacked by scripts/build-gpu.sh). Injected with -DCMAKE_PROJECT_INCLUDE=<this file>,
# so it runs right after project() and before cmake/HaloDependencies.cmake looks for packages.
# Needs HALO_OFFLINE_PREFIX: the folder the .debs were unpacked into (holding usr/).
if(NOT HALO_OFFLINE_PREFIX OR NOT IS_DIRECTORY "${HALO_OFFLINE_PREFIX}/usr")
  message(FATAL_ERROR "HALO_OFFLINE_PREFIX='${HALO_OFFLINE_PREFIX}' holds no usr/: "
                      "run scripts/build-gpu.sh, which unpacks the .debs and sets it.")
endif()

# The .debs are Debian amd64: their libraries live in the multiarch folder whatever the host's
# own CMAKE_LIBRARY_ARCHITECTURE is.
set(_halo_usr "${HALO_OFFLINE_PREFIX}/usr")
set(_halo_lib "${_halo_usr}/lib/x86_64-linux-gnu")

# Search the prefix before the system folders (its usr/ has lib/cmake, share/cmake, include).
list(PREPEND CMAKE_PREFIX_PATH "${_halo_usr}")
# FindHDF5 with HDF5_ROOT searches only there (NO_DEFAULT_PATH); Debian's serial flavour keeps
# libhdf5.so and include/ in this subfolder.
set(HDF5_ROOT "${_halo_lib}/hdf5/serial")

# Run-time lookup without LD_LIBRARY_PATH: the prefix's library folders go into the build RPATH,
# written as DT_RPATH rather than DT_RUNPATH (--disable-new-dtags), because only DT_RPATH also
# serves the libraries' own dependencies (libhdf5 -> libsz, libcurl -> ...; libspdlog -> libfmt),
# which Debian builds with no RPATH of their own. HOST_LINK keeps the flag off nvcc's device link.
# Debian 12 still ships a few libraries (libcom_err, libkeyutils) in /lib, hence the last entry.
list(APPEND CMAKE_BUILD_RPATH
  "${_halo_lib}" "${_halo_lib}/hdf5/serial" "${HALO_OFFLINE_PREFIX}/lib/x86_64-linux-gnu")
add_link_options("$<HOST_LINK:LINKER:--disable-new-dtags>")

message(STATUS "halo-distill: offline prefix ${HALO_OFFLINE_PREFIX} (HDF5_ROOT ${HDF5_ROOT})")
unset(_halo_usr)
unset(_halo_lib)
