# Installation and the Debian package (CPack's DEB generator), included by the top-level CMakeLists.
#   deploy/package/make-deb.sh [BUILD_DIR]    (cpack -G DEB in BUILD_DIR; arm64: see that script)
# CPack rather than dpkg-buildpackage: the install rules are CMake's own, the package is made from a
# build tree as it is (native or cross), and no debian/ tree or debhelper is needed.
include(GNUInstallDirs)

# The tools exist only where they were built (a cross-build with --agent-only has the agent alone).
install(TARGETS dadmm-agent dadmm-ctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(tool dadmm-sim dadmm-topogen dadmm-split dadmm-sweep dadmm-table1)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} OPTIONAL)
  endif()
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/dadmm-agent@.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/data/iris.csv ${PROJECT_SOURCE_DIR}/deploy/data/breast_cancer.csv
              ${PROJECT_SOURCE_DIR}/deploy/data/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/dadmm/data)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/deploy/make-certs.sh ${PROJECT_SOURCE_DIR}/deploy/plot-history.py
        DESTINATION ${CMAKE_INSTALL_DATADIR}/dadmm)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/raspberry-pi/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME raspberry-pi.md)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/grafana/dadmm-network.json DESTINATION ${CMAKE_INSTALL_DATADIR}/dadmm/grafana)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dadmm)
set(CPACK_PACKAGE_VENDOR dadmm)
set(CPACK_PACKAGE_CONTACT "dadmm maintainers <dadmm@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "distributed convex optimization daemons (D-ADMM) that count their messages")
set(CPACK_PACKAGE_DESCRIPTION
    "dadmm-agent solves one convex problem together with its neighbours (D-ADMM and the algorithms it is \
compared with), each node keeping its data, over gRPC with mutual TLS, counting every message and its \
modelled radio energy. Also dadmm-ctl (status, watch, report), the simulator tools and a systemd \
template unit, dadmm-agent@ID.service, reading /etc/dadmm/node-ID.yaml.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # dadmm_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries the programs link (objdump -p | grep NEEDED), by their Debian 12 packages; the
# install test (tests/deb_install_test.sh) checks in a fresh root that nothing is missing.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1, libabsl20220623, libgrpc++1.51, libgrpc29, libprotobuf32, libssl3, libyaml-cpp0.7, libprometheus-cpp-pull1.0, passwd")
# openssl: /usr/share/dadmm/make-certs.sh; python3-matplotlib: dadmm-ctl plot.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "openssl, python3-matplotlib")
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR STREQUAL "aarch64")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/package/postinst ${PROJECT_SOURCE_DIR}/deploy/package/prerm
    ${PROJECT_SOURCE_DIR}/deploy/package/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
