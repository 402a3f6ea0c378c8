// The page's forms: one per route, built from a table of the route's main parameters. Field names are the
// API's own, so a form becomes the route's multipart body as is (lists as repeated fields).

const DIFFUSION = ["prompt", "negative_prompt", "num_inference_steps", "guidance_scale", "scheduler", "seed"];

/** Every field the forms use, by API name. */
export function fieldTable(config) {
  const side = { type: "number", min: config.size_multiple, max: config.max_image_size, step: config.size_multiple,
                 placeholder: "native" };
  return {
    image: { label: "Photo", type: "file", required: true, preview: true },
    mask_image: { label: "Mask (white = the product)", type: "file", preview: true },
    file: { label: "Article sheet (XLSX, CSV or a JSON list)", type: "file", required: true,
            accept: ".xlsx,.csv,.json" },
    prompt: { label: "Prompt", type: "textarea", required: true },
    negative_prompt: { label: "Negative prompt", type: "text" },
    width: { label: "Width", ...side },
    height: { label: "Height", ...side },
    max_side: { label: "Longest side", ...side },
    num_inference_steps: { label: "Steps", type: "number", min: 1, max: config.max_steps, value: 20 },
    guidance_scale: { label: "Guidance", type: "number", min: 0, max: 30, step: 0.5, value: 7.5 },
    scheduler: { label: "Scheduler", type: "select", options: ["", ...config.schedulers], labels: { "": "model default" } },
    seed: { label: "Seed", type: "number", min: 0, placeholder: "random" },
    num_images: { label: "Images", type: "number", min: 1, max: config.max_images, value: 1 },
    strength: { label: "Strength", type: "number", min: 0, max: 1, step: 0.05 },
    controlnet_conditioning_scale: { label: "Depth guidance", type: "number", min: 0, max: 5, step: 0.1 },
    depth_scale: { label: "Depth scale", type: "number", min: 0, max: 5, step: 0.1 },
    seg_scale: { label: "Segmentation scale", type: "number", min: 0, max: 5, step: 0.1 },
    mask_dilation: { label: "Mask dilation (px)", type: "number", min: 0, max: 64 },
    mask_feather: { label: "Mask feather (px)", type: "number", min: 0, max: 64 },
    keep_classes: { label: "Keep classes", type: "text", list: true, placeholder: "wall, window" },
    return_intermediates: { label: "Return intermediates (mask, depth, segmentation)", type: "checkbox" },
    labels: { label: "Labels", type: "text", list: true, required: true, placeholder: "handbag, sneaker" },
    threshold: { label: "Threshold", type: "number", min: 0, max: 1, step: 0.05, placeholder: "0.5" },
    points_per_side: { label: "Points per side", type: "number", min: 1, max: 8, placeholder: "6" },
    min_mask_score: { label: "Least mask score", type: "number", min: 0, max: 1, step: 0.01, placeholder: "0.88" },
    stability_score_thresh: { label: "Least stability", type: "number", min: 0, max: 1, step: 0.01, placeholder: "0.95" },
    max_objects: { label: "Most objects", type: "number", min: 1, max: 64, placeholder: "8" },
    max_retries: { label: "Retries below the threshold", type: "number", min: 0, max: 10, placeholder: "2" },
    model: { label: "Model variant", type: "text", placeholder: "default" },
    id_column: { label: "Id column", type: "text", placeholder: "article_id, sku, ..." },
    text_column: { label: "Description column", type: "text", placeholder: "beschreibung, ..." },
    translate: { label: "Descriptions are English (no translation)", type: "checkbox", checkedValue: "false" },
    num_beams: { label: "Translation beams", type: "number", min: 1, max: 8 },
    max_new_tokens: { label: "Translation tokens", type: "number", min: 1, max: 512 },
  };
}

/** One tab per route: `stream` forms show per-step progress; the finder answers JSON at once. */
export const FORMS = [
  { id: "txt2img", title: "Text to image", route: "/v1/txt2img", model: "txt2img", stream: true,
    help: "An image from a prompt.",
    fields: ["prompt", "negative_prompt", "width", "height", ...DIFFUSION.slice(2), "num_images"] },
  { id: "background-replace", title: "Background replace", route: "/v1/background-replace",
    model: "background_replace", stream: true,
    help: "A product packshot: the background is repainted from the prompt, the product kept pixel-exact.",
    fields: ["image", "mask_image", ...DIFFUSION, "max_side", "controlnet_conditioning_scale", "mask_dilation",
             "mask_feather", "return_intermediates"] },
  { id: "restyle-room", title: "Restyle room", route: "/v1/restyle-room", model: "restyle_room", stream: true,
    overrides: { strength: { label: "Strength (empty: txt2img)" } },
    help: "An interior redrawn along its depth and segmentation; keep classes stay the photo.",
    fields: ["image", ...DIFFUSION, "max_side", "strength", "depth_scale", "seg_scale", "keep_classes",
             "return_intermediates"] },
  { id: "product-enhance", title: "Product enhance", route: "/v1/product-enhance", model: "product_enhance",
    stream: true, overrides: { mask_image: { label: "Mask (white = the region to repaint)", required: true } },
    help: "The masked product region repainted; everything outside it stays the photo.",
    fields: ["image", "mask_image", ...DIFFUSION, "max_side", "strength", "controlnet_conditioning_scale",
             "mask_dilation", "return_intermediates"] },
  { id: "product-finder", title: "Product finder", route: "/v1/product-finder", model: "product_finder",
    stream: false, help: "The objects of the given classes in a photo, each with its box and mask.",
    fields: ["image", "labels", "threshold", "points_per_side", "min_mask_score", "stability_score_thresh",
             "max_objects"] },
  { id: "jobs", title: "Catalog jobs", route: "/v1/jobs", model: "txt2img", stream: false, job: true,
    help: "A sheet of article descriptions in, one scored product image per article out (a zip).",
    overrides: { threshold: { label: "CLIP score threshold", max: 100, step: 1, placeholder: "30" },
                 seed: { placeholder: "0" } },
    fields: ["file", "num_inference_steps", "guidance_scale", "width", "height", "scheduler", "seed", "threshold",
             "max_retries", "model", "id_column", "text_column", "translate", "num_beams", "max_new_tokens"] },
];

/** The <form> of one spec; file inputs show a preview of the chosen image. */
export function renderForm(spec, table) {
  const form = document.createElement("form");
  form.id = `form-${spec.id}`;
  form.noValidate = true; // the API checks every value and says what is wrong; the page shows its words
  form.dataset.route = spec.route;
  const help = document.createElement("p");
  help.className = "help";
  help.textContent = spec.help;
  form.append(help);
  for (const name of spec.fields) {
    const field = { ...table[name], ...spec.overrides?.[name] };
    form.append(renderField(name, field));
  }
  const submit = document.createElement("button");
  submit.type = "submit";
  submit.className = "primary";
  submit.textContent = spec.stream ? "Generate" : spec.job ? "Start job" : "Find";
  form.append(submit);
  return form;
}

function renderField(name, field) {
  const label = document.createElement("label");
  label.className = `field field-${field.type}`;
  const caption = document.createElement("span");
  caption.textContent = field.label + (field.required ? " *" : "");
  let input;
  if (field.type === "textarea") {
    input = document.createElement("textarea");
    input.rows = 2;
  } else if (field.type === "select") {
    input = document.createElement("select");
    for (const option of field.options) input.add(new Option(field.labels?.[option] ?? option, option));
  } else {
    input = document.createElement("input");
    input.type = field.type;
    for (const key of ["min", "max", "step", "placeholder"]) if (field[key] !== undefined) input[key] = field[key];
    if (field.value !== undefined) input.value = field.value;
    else if (field.type === "number" && !input.placeholder) input.placeholder = "default";
    if (field.type === "file") input.accept = field.accept ?? "image/png,image/jpeg,image/webp";
    if (field.type === "checkbox") input.value = field.checkedValue ?? "true";
  }
  input.name = name;
  if (field.list) input.dataset.list = "true";
  if (field.type === "checkbox") label.append(input, caption);
  else label.append(caption, input);
  if (field.preview) {
    const preview = document.createElement("img");
    preview.className = "preview";
    preview.alt = `${field.label} preview`;
    preview.hidden = true;
    input.addEventListener("change", () => {
      if (preview.src) URL.revokeObjectURL(preview.src);
      const file = input.files[0];
      preview.hidden = !file;
      if (file) preview.src = URL.createObjectURL(file);
    });
    label.append(preview);
  }
  return label;
}

/** The form's values as the route's multipart body, and the text parameters for the gallery. */
export function formBody(form, stream) {
  const body = new FormData();
  const params = {};
  for (const input of form.querySelectorAll("input, textarea, select")) {
    if (input.type === "file") {
      if (input.files[0]) body.append(input.name, input.files[0]);
    } else if (input.type === "checkbox") {
      if (input.checked) { body.append(input.name, input.value); params[input.name] = input.value; }
    } else if (input.dataset.list) {
      const items = input.value.split(",").map((item) => item.trim()).filter(Boolean);
      for (const item of items) body.append(input.name, item);
      if (items.length) params[input.name] = items;
    } else if (input.value.trim() !== "") {
      body.append(input.name, input.value);
      params[input.name] = input.value;
    }
  }
  if (stream) body.append("stream", "true");
  return { body, params };
}
