# rapport_proto_library(NAME DIR <dir under protos/> DEPS <other proto libs>)
# Compiles every .proto in protos/<DIR> with protoc and grpc_cpp_plugin into a
# static library whose headers are included as "rapport/<area>/v1/x.pb.h".
function(rapport_proto_library name)
  cmake_parse_arguments(P "" "DIR" "DEPS" ${ARGN})
  set(proto_root ${PROJECT_SOURCE_DIR}/protos)
  set(out_root ${CMAKE_BINARY_DIR}/gen)
  file(GLOB protos CONFIGURE_DEPENDS ${proto_root}/${P_DIR}/*.proto)
  get_target_property(grpc_plugin gRPC::grpc_cpp_plugin LOCATION)
  set(srcs)
  foreach(proto ${protos})
    file(RELATIVE_PATH rel ${proto_root} ${proto})
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(gen ${out_root}/${base}.pb.cc ${out_root}/${base}.pb.h
            ${out_root}/${base}.grpc.pb.cc ${out_root}/${base}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${gen}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_root}
      COMMAND protobuf::protoc
        --proto_path=${proto_root} --proto_path=${Protobuf_INCLUDE_DIRS}
        --cpp_out=${out_root} --grpc_out=${out_root}
        --plugin=protoc-gen-grpc=${grpc_plugin}
        --descriptor_set_out=${out_root}/${base}.desc --include_imports
        ${proto}
      DEPENDS ${proto} protobuf::protoc
      COMMENT "protoc ${rel}")
    list(APPEND srcs ${gen})
  endforeach()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${out_root})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf gRPC::grpc++ ${P_DEPS})
endfunction()
