// The sample images in demo/public/samples/, drawn by demo/scripts/make_samples.ts.
export interface Sample {
  name: string;
  title: string;
  url: string;
}

export const SAMPLES: Sample[] = [
  { name: 'balls', title: 'Three balls on a table (320×240)' },
  { name: 'landscape', title: 'Hills, a sun and a tree (400×260)' },
  { name: 'shapes', title: 'A square, a disc and a triangle (300×300)' },
  { name: 'fish', title: 'Two fish in the sea (240×320)' },
].map((s) => ({ ...s, url: `samples/${s.name}.png` }));
