# install_units.cmake - run by `cmake --install` (install(SCRIPT) in CMakeLists.txt): installs
# the systemd units with the paths of this installation. The units in systemd/ name
# /usr/local/bin/restore-worker and /usr/local/share/doc/restore-worker (the default prefix);
# here those become the install prefix's, so that `cmake --install --prefix /usr` gives units
# that run /usr/bin/restore-worker. The source files stay as they are, readable in the repository.
#
# Set before it runs: RW_SOURCE_DIR (the source tree), RW_UNIT_STAGE (a folder of the build
# tree for the rewritten units), RW_BINDIR, RW_DOCDIR, RW_UNITDIR (GNUInstallDirs' relative or
# absolute folders) and RW_UNITS (the unit files, relative to RW_SOURCE_DIR). CMAKE_INSTALL_PREFIX
# is the prefix of this install (--prefix); DESTDIR is honoured by file(INSTALL).

# rw_install_path: an install folder as an absolute path under the prefix of this install.
function(rw_install_path dir out)
	if(IS_ABSOLUTE "${dir}")
		set(${out} "${dir}" PARENT_SCOPE)
	else()
		set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
	endif()
endfunction()

rw_install_path("${RW_BINDIR}" bindir)
rw_install_path("${RW_DOCDIR}" docdir)
rw_install_path("${RW_UNITDIR}" unitdir)
file(MAKE_DIRECTORY "${RW_UNIT_STAGE}")
foreach(unit IN LISTS RW_UNITS)
	get_filename_component(name "${unit}" NAME)
	file(READ "${RW_SOURCE_DIR}/${unit}" text)
	string(REPLACE "/usr/local/bin/restore-worker" "${bindir}/restore-worker" text "${text}")
	string(REPLACE "/usr/local/share/doc/restore-worker" "${docdir}" text "${text}")
	file(WRITE "${RW_UNIT_STAGE}/${name}" "${text}")
	file(INSTALL "${RW_UNIT_STAGE}/${name}" DESTINATION "${unitdir}"
		PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()
