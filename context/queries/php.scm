; PHP tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

(namespace_definition name: (namespace_name) @name.definition.module) @definition.module

[
  (class_declaration name: (name) @name.definition.class)
  (enum_declaration name: (name) @name.definition.class)
] @definition.class

[
  (interface_declaration name: (name) @name.definition.interface)
  (trait_declaration name: (name) @name.definition.interface)
] @definition.interface

(method_declaration name: (name) @name.definition.method) @definition.method

(function_definition name: (name) @name.definition.function) @definition.function

(const_declaration (const_element (name) @name.definition.constant)) @definition.constant

; References.

(function_call_expression
  function: (name) @name.reference.call)

(function_call_expression
  function: (qualified_name (name) @name.reference.call))

(member_call_expression name: (name) @name.reference.call)

(nullsafe_member_call_expression name: (name) @name.reference.call)

(scoped_call_expression name: (name) @name.reference.call)

(scoped_call_expression scope: (name) @name.reference.class
  (#not-match? @name.reference.class "^(self|static|parent)$"))

(scoped_call_expression scope: (qualified_name (name) @name.reference.class))

(object_creation_expression (name) @name.reference.class)

(object_creation_expression (qualified_name (name) @name.reference.class))

(base_clause (name) @name.reference.class)

(base_clause (qualified_name (name) @name.reference.class))

(class_interface_clause (name) @name.reference.class)

(class_interface_clause (qualified_name (name) @name.reference.class))

(named_type (name) @name.reference.class)

(named_type (qualified_name (name) @name.reference.class))

(use_declaration (name) @name.reference.class)
