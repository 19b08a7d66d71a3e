// Express 4, installed under the alias `express4` (one package name cannot hold two majors).

import express4 from 'express4';
import { installedVersion, type ConformanceApp } from './app.ts';
import { expressConformance } from './express.ts';

export const app: ConformanceApp = expressConformance('express4', `Express ${installedVersion('express4')}`, express4);
